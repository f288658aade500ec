// Signs one request with the http-message-signatures npm package (an
// independent RFC 9421 implementation, fetched by scripts/test-deps.sh)
// and prints its headers as JSON. Input, as JSON on stdin:
// {method, url, headers, fields, alg, key (PEM or secret), keyid, created, nonce}
const { httpbis: { signMessage }, createSigner } = require('http-message-signatures');
let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', async () => {
  const c = JSON.parse(input);
  const key = c.alg === 'hmac-sha256' ? Buffer.from(c.key, 'base64') : c.key;
  const signer = createSigner(key, c.alg, c.keyid);
  const signed = await signMessage({
    key: signer,
    fields: c.fields,
    params: ['created', 'keyid', 'alg', 'nonce'],
    paramValues: { created: new Date(c.created * 1000), nonce: c.nonce },
  }, { method: c.method, url: c.url, headers: c.headers });
  process.stdout.write(JSON.stringify(signed.headers));
});
