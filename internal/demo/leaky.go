package demo

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
)

// The leaky endpoints are deliberately careless, so that the demo can show
// the response stages at work: GET /accounts/{id} answers the stored
// password hash and the whole payment card number, GET /stats fails with
// a stack trace, and POST /login tells unknown users (404) from wrong
// passwords (401). The card numbers are the networks' published test
// numbers and the hashes are bcrypt hashes of the demo passwords
// ("alice-password", ...): nothing here is a real secret.
func init() {
	routes = append(routes,
		route{http.MethodGet, "/accounts/{id}", (*api).getAccount},
		route{http.MethodGet, "/stats", (*api).stats},
		route{http.MethodPost, "/login", (*api).login},
	)
}

// Account is what GET /accounts/{id} answers: more than it should.
type Account struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Email        string `json:"email"`
	PaymentCard  string `json:"payment_card"`
	PasswordHash string `json:"password_hash"`
}

// DemoPasswords are the demo accounts' passwords (POST /login).
var DemoPasswords = map[string]string{"alice": "alice-password", "bob": "bob-password", "admin": "admin-password"}

var accounts = map[string]Account{
	"alice": {ID: "alice", Name: "Alice Liddell", Email: "alice@example.com", PaymentCard: "4111 1111 1111 1111",
		PasswordHash: "$2b$10$fzjax9d32b/OIMxcHzxpk.eJHNnZp27DQ6BU25qh9L8aT9jx3ihy."},
	"bob": {ID: "bob", Name: "Bob Builder", Email: "bob@example.com", PaymentCard: "5555 5555 5555 4444",
		PasswordHash: "$2b$10$2LPxHx75x3wXseH9p/pT2ezjLn3e5j6ZjyAwZgLtRPEfhMIaT5sDO"},
	"admin": {ID: "admin", Name: "Site Administrator", Email: "admin@example.com", PaymentCard: "3782 822463 10005",
		PasswordHash: "$2b$10$7gZsK4aEZXZ/mL8aern5veD0IUnMwkT/aIdx/JX8KkyoLlypZZ.si"},
}

func (a *api) getAccount(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !userIDPattern.MatchString(id) {
		writeProblem(w, r, http.StatusBadRequest, "user id must be 2 to 32 lowercase letters, digits, '_' or '-', starting with a letter")
		return
	}
	acc, ok := accounts[id]
	if !ok {
		writeProblem(w, r, http.StatusNotFound, "no account with this id")
		return
	}
	b, _ := json.Marshal(acc)
	writeJSON(w, http.StatusOK, b)
}

// stats fails the way an unguarded Go handler does: the panic and its
// goroutine dump go to the client.
func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	a.mu.RLock()
	n := len(a.pets)
	a.mu.RUnlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, "panic: runtime error: integer divide by zero\n\ngoroutine 1337 [running]:\n"+
		"github.com/portcullis/demo/internal/stats.(*Service).Average(0xc000124000, {0x%x, 0x0})\n"+
		"\t/home/build/demo/internal/stats/stats.go:42 +0x1d\n"+
		"github.com/portcullis/demo/internal/api.(*Server).stats(0xc0001a2000, {0xa4c2e0, 0xc0002b6000}, 0xc00032a000)\n"+
		"\t/home/build/demo/internal/api/handlers.go:118 +0x8b\nnet/http.HandlerFunc.ServeHTTP(...)\n", n)
}

// login tells an unknown user (404) from a wrong password (401).
func (a *api) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username *string `json:"username"`
		Password *string `json:"password"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.Username == nil || in.Password == nil {
		writeProblem(w, r, http.StatusBadRequest, "username and password are required")
		return
	}
	want, known := DemoPasswords[*in.Username]
	switch {
	case !known:
		writeProblem(w, r, http.StatusNotFound, "no such user")
	case !hmac.Equal([]byte(want), []byte(*in.Password)):
		writeProblem(w, r, http.StatusUnauthorized, "wrong password")
	default:
		tok := make([]byte, 16)
		_, _ = rand.Read(tok)
		b, _ := json.Marshal(map[string]string{"token": "demo-" + *in.Username + "-" + hex.EncodeToString(tok)})
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, b)
	}
}
