// Package stage is the registry of the gateway's stages: every stage the
// gateway can put in an API's chain, in pipeline order, one line each.
//
// A stage package exports a pipeline.Module (its id, its config block and
// its constructor over one pipeline.Build). Everything else is derived from
// this list: the config decoder accepts the blocks, the JSON Schema and
// docs/config.md describe them, and the gateway builds each API's chain by
// walking it. Adding a stage is its package and one line here.
package stage

import (
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/authn"
	"github.com/portcullis/portcullis/internal/stage/authz"
	"github.com/portcullis/portcullis/internal/stage/contract"
	"github.com/portcullis/portcullis/internal/stage/cors"
	"github.com/portcullis/portcullis/internal/stage/csrf"
	"github.com/portcullis/portcullis/internal/stage/detect"
	"github.com/portcullis/portcullis/internal/stage/headers"
	"github.com/portcullis/portcullis/internal/stage/ipfilter"
	"github.com/portcullis/portcullis/internal/stage/limits"
	"github.com/portcullis/portcullis/internal/stage/mask"
	"github.com/portcullis/portcullis/internal/stage/ratelimit"
	"github.com/portcullis/portcullis/internal/stage/scrub"
	"github.com/portcullis/portcullis/internal/stage/uniform"
	"github.com/portcullis/portcullis/internal/stage/validate"
	"github.com/portcullis/portcullis/internal/stage/waf"
	"github.com/portcullis/portcullis/internal/stage/websocket"
)

// Registry lists the request stages in pipeline order (DESIGN.md: ipfilter
// → ratelimit(ip) → authn → ratelimit(principal) → authz → validate → waf).
// Response stages run on the way back in reverse order: authz's owner
// rules and validate judge the upstream's own answer, then scrub, uniform,
// contract and mask rewrite it, then csrf, cors and headers finish its
// headers. Order matters where a stage reads what an earlier one wrote:
// ratelimit.principal and authz read authn's principal; waf skips the
// values validate proved by type (TestRegistryOrder pins each).
var Registry = []pipeline.Module{
	ratelimit.BanModule,          // ban: enforce decisions on the client first
	detect.Module,                // detect: notes login accounts; detectors observe whole exchanges
	ipfilter.Module,              // ipfilter
	limits.Module,                // limits.request
	headers.Module,               // headers: security headers on every answer, CSP reports answered
	cors.Module,                  // cors: preflights answered before any credential is asked for
	ratelimit.IPModule,           // ratelimit.ip
	csrf.Module,                  // csrf: forged cookie-authenticated requests, before any work on them
	mask.Module,                  // mask: sensitive values in answers (response side, after contract)
	contract.Module,              // contract: undeclared properties out of answers (response side)
	uniform.Module,               // uniform: login, reset and registration answers that reveal accounts (response side)
	scrub.Module,                 // scrub: error answers that leak internals (response side, first of the body stages)
	authn.Module,                 // authn
	ratelimit.BanPrincipalModule, // ban.principal: decisions on the principal and its key
	ratelimit.PrincipalModule,    // ratelimit.principal
	authz.Module,                 // authz
	validate.Module,              // validate
	waf.Module,                   // waf
	websocket.Module,             // websocket: grants a switch only after every other stage passed the handshake
}
