// Package demo is the small pet-shop API that `portcullis demo` runs behind
// the gateway, with its OpenAPI 3.1 description. It is also the upstream of
// end-to-end tests and of benchmarks, so it is fast: responses are encoded
// when the data changes, not per request, and it logs nothing.
//
// The API has three resources and a health check:
//
//	GET    /pets            list pets (?limit=1..100, default 20; ?tag=)
//	POST   /pets            create a pet
//	GET    /pets/{id}       read a pet (id: positive integer)
//	PUT    /pets/{id}       replace a pet
//	DELETE /pets/{id}       delete a pet
//	GET    /users           list users
//	GET    /users/{id}      read a user ("alice", "bob", "admin")
//	GET    /orders          list orders (?owner=)
//	POST   /orders          place an order
//	GET    /orders/{id}     read an order ("ord-1001")
//	GET    /healthz         liveness
//
// Errors are RFC 9457 application/problem+json documents. Everything is
// held in memory and lost on restart.
package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// APIOptions configures NewAPI. The zero value is ready to use.
type APIOptions struct {
	// Now returns the current time, stamped as created_at on pets and
	// orders created through the API. Default nil: time.Now. Seeded
	// resources have fixed timestamps so responses are reproducible.
	Now func() time.Time

	// Vulnerable serves, besides the pet shop, the scanner lab operations
	// of OpenAPIVulnerable() (login, search, ping, notes, ...) with planted
	// flaws of every kind `portcullis scan` checks (see vulnerable.go). For
	// scanner demonstrations and tests only; never expose it. Default
	// false.
	Vulnerable bool
	// Lab serves the same lab operations with every flaw fixed, so that a
	// scan of it must report nothing. Vulnerable wins over Lab. Default
	// false: neither is served.
	Lab bool

	// Later options are added here as new fields whose zero value keeps
	// the API as it is now.
}

// Limits of the demo API. They keep an API that anyone can write to from
// growing without bound.
const (
	// MaxBodyBytes caps a request body; larger bodies get 413.
	MaxBodyBytes = 64 << 10
	// MaxPets caps the number of pets in the store; more gets 507.
	MaxPets = 10000
	// MaxOrders caps the number of orders in the store; more gets 507.
	MaxOrders = 10000
	// DefaultLimit is the page size of GET /pets without ?limit.
	DefaultLimit = 20
	// MaxLimit is the largest ?limit GET /pets accepts.
	MaxLimit = 100
)

// Patterns that identifiers and tags must match. The same patterns are in
// openapi.yaml.
var (
	tagPattern     = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
	userIDPattern  = regexp.MustCompile(`^[a-z][a-z0-9_-]{1,31}$`)
	orderIDPattern = regexp.MustCompile(`^ord-[0-9]{4,9}$`)
)

// Pet statuses, in the order openapi.yaml lists them.
var petStatuses = []string{"available", "pending", "sold"}

// Pet is a pet as the API returns it.
type Pet struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Tag       string    `json:"tag,omitempty"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// User is a user as the API returns it.
type User struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Role  string `json:"role"`
}

// Order is an order as the API returns it. Owner is the id of the user who
// placed it.
type Order struct {
	ID        string    `json:"id"`
	Owner     string    `json:"owner"`
	PetID     int64     `json:"pet_id"`
	Quantity  int       `json:"quantity"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// newPet is the body of POST /pets and PUT /pets/{id}. Pointers tell a
// missing field from a zero one.
type newPet struct {
	Name   *string `json:"name"`
	Tag    *string `json:"tag"`
	Status *string `json:"status"`
}

// newOrder is the body of POST /orders.
type newOrder struct {
	Owner    *string `json:"owner"`
	PetID    *int64  `json:"pet_id"`
	Quantity *int    `json:"quantity"`
}

// seedTime is the created_at of every seeded resource.
var seedTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// encoded is a resource with its JSON encoding, refreshed on every write.
type encoded[T any] struct {
	v   T
	enc []byte
}

func encode[T any](v T) encoded[T] {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain structs of strings, numbers and times are encoded.
		panic(fmt.Sprintf("demo: encoding %T: %v", v, err))
	}
	return encoded[T]{v: v, enc: b}
}

// route is one operation the API serves. The list is walked by the tests to
// check it against openapi.yaml in both directions.
type route struct {
	method, path string
	handle       func(*api, http.ResponseWriter, *http.Request)
}

var routes = []route{
	{http.MethodGet, "/pets", (*api).listPets},
	{http.MethodPost, "/pets", (*api).createPet},
	{http.MethodGet, "/pets/{id}", (*api).getPet},
	{http.MethodPut, "/pets/{id}", (*api).replacePet},
	{http.MethodDelete, "/pets/{id}", (*api).deletePet},
	{http.MethodGet, "/users", (*api).listUsers},
	{http.MethodGet, "/users/{id}", (*api).getUser},
	{http.MethodGet, "/orders", (*api).listOrders},
	{http.MethodPost, "/orders", (*api).createOrder},
	{http.MethodGet, "/orders/{id}", (*api).getOrder},
	{http.MethodGet, "/healthz", (*api).healthz},
}

// api is the handler NewAPI returns.
type api struct {
	now func() time.Time
	mux *http.ServeMux

	// Users are fixed: encoded once.
	users     map[string]encoded[User]
	usersList []byte

	mu        sync.RWMutex
	pets      map[int64]encoded[Pet]
	petIDs    []int64 // ascending
	nextPet   int64
	orders    map[string]encoded[Order]
	orderIDs  []string // in creation order
	nextOrder int
}

// NewAPI returns the demo API, seeded with five pets, three users (alice,
// bob, admin) and three orders.
func NewAPI(opts APIOptions) http.Handler {
	a := &api{
		now:    opts.Now,
		mux:    http.NewServeMux(),
		users:  map[string]encoded[User]{},
		pets:   map[int64]encoded[Pet]{},
		orders: map[string]encoded[Order]{},
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.seed()
	for _, rt := range routes {
		h := rt.handle
		a.mux.HandleFunc(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) { h(a, w, r) })
	}
	// Everything else ends here, so that 404 and 405 are problem documents
	// like every other error.
	a.mux.HandleFunc("/", a.unmatched)
	if opts.Vulnerable || opts.Lab {
		return newLab(a.mux, opts.Vulnerable, a.now)
	}
	return a.mux
}

func (a *api) seed() {
	users := []User{
		{ID: "alice", Name: "Alice Liddell", Email: "alice@example.com", Role: "user"},
		{ID: "bob", Name: "Bob Builder", Email: "bob@example.com", Role: "user"},
		{ID: "admin", Name: "Site Administrator", Email: "admin@example.com", Role: "admin"},
	}
	encs := make([][]byte, 0, len(users))
	for _, u := range users {
		e := encode(u)
		a.users[u.ID] = e
		encs = append(encs, e.enc)
	}
	a.usersList = joinJSON(encs)

	pets := []Pet{
		{Name: "Rex", Tag: "dog", Status: "available"},
		{Name: "Whiskers", Tag: "cat", Status: "available"},
		{Name: "Bubbles", Tag: "fish", Status: "pending"},
		{Name: "Polly", Tag: "bird", Status: "sold"},
		{Name: "Fido", Tag: "dog", Status: "available"},
	}
	for _, p := range pets {
		a.nextPet++
		p.ID = a.nextPet
		p.CreatedAt = seedTime
		a.pets[p.ID] = encode(p)
		a.petIDs = append(a.petIDs, p.ID)
	}

	a.nextOrder = 1001
	orders := []Order{
		{Owner: "alice", PetID: 1, Quantity: 1},
		{Owner: "bob", PetID: 2, Quantity: 1},
		{Owner: "alice", PetID: 3, Quantity: 2},
	}
	for _, o := range orders {
		o.ID = "ord-" + strconv.Itoa(a.nextOrder)
		a.nextOrder++
		o.Status = "placed"
		o.CreatedAt = seedTime
		a.orders[o.ID] = encode(o)
		a.orderIDs = append(a.orderIDs, o.ID)
	}
}

// --- pets ---

func (a *api) listPets(w http.ResponseWriter, r *http.Request) {
	limit := DefaultLimit
	tag := ""
	if r.URL.RawQuery != "" {
		q := r.URL.Query()
		if s, ok := q["limit"]; ok {
			n, err := strconv.Atoi(s[0])
			if err != nil || len(s) > 1 || n < 1 || n > MaxLimit {
				writeProblem(w, r, http.StatusBadRequest, fmt.Sprintf("limit must be one integer from 1 to %d", MaxLimit))
				return
			}
			limit = n
		}
		if s, ok := q["tag"]; ok {
			if len(s) > 1 || !tagPattern.MatchString(s[0]) {
				writeProblem(w, r, http.StatusBadRequest, "tag must be 1 to 32 lowercase letters, digits or dashes")
				return
			}
			tag = s[0]
		}
	}
	a.mu.RLock()
	encs := make([][]byte, 0, min(limit, len(a.petIDs)))
	for _, id := range a.petIDs {
		if len(encs) == limit {
			break
		}
		p := a.pets[id]
		if tag != "" && p.v.Tag != tag {
			continue
		}
		encs = append(encs, p.enc)
	}
	body := joinJSON(encs)
	a.mu.RUnlock()
	writeJSON(w, http.StatusOK, body)
}

func (a *api) createPet(w http.ResponseWriter, r *http.Request) {
	var in newPet
	if !readJSON(w, r, &in) {
		return
	}
	p, msg := in.pet()
	if msg != "" {
		writeProblem(w, r, http.StatusBadRequest, msg)
		return
	}
	p.CreatedAt = a.now().UTC()

	a.mu.Lock()
	if len(a.pets) >= MaxPets {
		a.mu.Unlock()
		writeProblem(w, r, http.StatusInsufficientStorage, "the demo store is full")
		return
	}
	a.nextPet++
	p.ID = a.nextPet
	e := encode(p)
	a.pets[p.ID] = e
	a.petIDs = append(a.petIDs, p.ID)
	a.mu.Unlock()

	w.Header().Set("Location", "/pets/"+strconv.FormatInt(p.ID, 10))
	writeJSON(w, http.StatusCreated, e.enc)
}

func (a *api) getPet(w http.ResponseWriter, r *http.Request) {
	id, ok := petID(w, r)
	if !ok {
		return
	}
	a.mu.RLock()
	p, found := a.pets[id]
	a.mu.RUnlock()
	if !found {
		writeProblem(w, r, http.StatusNotFound, "no pet with this id")
		return
	}
	writeJSON(w, http.StatusOK, p.enc)
}

func (a *api) replacePet(w http.ResponseWriter, r *http.Request) {
	id, ok := petID(w, r)
	if !ok {
		return
	}
	var in newPet
	if !readJSON(w, r, &in) {
		return
	}
	p, msg := in.pet()
	if msg != "" {
		writeProblem(w, r, http.StatusBadRequest, msg)
		return
	}
	a.mu.Lock()
	old, found := a.pets[id]
	if !found {
		a.mu.Unlock()
		writeProblem(w, r, http.StatusNotFound, "no pet with this id")
		return
	}
	p.ID = id
	p.CreatedAt = old.v.CreatedAt
	e := encode(p)
	a.pets[id] = e
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, e.enc)
}

func (a *api) deletePet(w http.ResponseWriter, r *http.Request) {
	id, ok := petID(w, r)
	if !ok {
		return
	}
	a.mu.Lock()
	_, found := a.pets[id]
	if found {
		delete(a.pets, id)
		if i, ok := slices.BinarySearch(a.petIDs, id); ok {
			a.petIDs = slices.Delete(a.petIDs, i, i+1)
		}
	}
	a.mu.Unlock()
	if !found {
		writeProblem(w, r, http.StatusNotFound, "no pet with this id")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// petID parses the {id} path value: a positive decimal int64 without a sign.
func petID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	s := r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 || s[0] < '0' || s[0] > '9' {
		writeProblem(w, r, http.StatusBadRequest, "pet id must be a positive integer")
		return 0, false
	}
	return id, true
}

// pet validates a NewPet body and returns the pet it describes, or a
// message for the client.
func (in *newPet) pet() (Pet, string) {
	if in.Name == nil {
		return Pet{}, "name is required"
	}
	if n := utf8.RuneCountInString(*in.Name); n < 1 || n > 64 || strings.TrimSpace(*in.Name) == "" {
		return Pet{}, "name must be 1 to 64 characters"
	}
	p := Pet{Name: *in.Name, Status: "available"}
	if in.Tag != nil {
		if !tagPattern.MatchString(*in.Tag) {
			return Pet{}, "tag must be 1 to 32 lowercase letters, digits or dashes"
		}
		p.Tag = *in.Tag
	}
	if in.Status != nil {
		if !slices.Contains(petStatuses, *in.Status) {
			return Pet{}, "status must be one of " + strings.Join(petStatuses, ", ")
		}
		p.Status = *in.Status
	}
	return p, ""
}

// --- users ---

func (a *api) listUsers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.usersList)
}

func (a *api) getUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !userIDPattern.MatchString(id) {
		writeProblem(w, r, http.StatusBadRequest, "user id must be 2 to 32 lowercase letters, digits, '_' or '-', starting with a letter")
		return
	}
	u, ok := a.users[id]
	if !ok {
		writeProblem(w, r, http.StatusNotFound, "no user with this id")
		return
	}
	writeJSON(w, http.StatusOK, u.enc)
}

// --- orders ---

func (a *api) listOrders(w http.ResponseWriter, r *http.Request) {
	owner := ""
	if r.URL.RawQuery != "" {
		if s, ok := r.URL.Query()["owner"]; ok {
			if len(s) > 1 || !userIDPattern.MatchString(s[0]) {
				writeProblem(w, r, http.StatusBadRequest, "owner must be a user id")
				return
			}
			owner = s[0]
		}
	}
	a.mu.RLock()
	encs := make([][]byte, 0, len(a.orderIDs))
	for _, id := range a.orderIDs {
		o := a.orders[id]
		if owner != "" && o.v.Owner != owner {
			continue
		}
		encs = append(encs, o.enc)
	}
	body := joinJSON(encs)
	a.mu.RUnlock()
	writeJSON(w, http.StatusOK, body)
}

func (a *api) createOrder(w http.ResponseWriter, r *http.Request) {
	var in newOrder
	if !readJSON(w, r, &in) {
		return
	}
	switch {
	case in.Owner == nil:
		writeProblem(w, r, http.StatusBadRequest, "owner is required")
		return
	case !userIDPattern.MatchString(*in.Owner):
		writeProblem(w, r, http.StatusBadRequest, "owner must be a user id")
		return
	case in.PetID == nil:
		writeProblem(w, r, http.StatusBadRequest, "pet_id is required")
		return
	case *in.PetID < 1:
		writeProblem(w, r, http.StatusBadRequest, "pet_id must be a positive integer")
		return
	case in.Quantity != nil && (*in.Quantity < 1 || *in.Quantity > 100):
		writeProblem(w, r, http.StatusBadRequest, "quantity must be from 1 to 100")
		return
	}
	if _, ok := a.users[*in.Owner]; !ok {
		writeProblem(w, r, http.StatusUnprocessableEntity, "owner is not a known user")
		return
	}
	o := Order{Owner: *in.Owner, PetID: *in.PetID, Quantity: 1, Status: "placed", CreatedAt: a.now().UTC()}
	if in.Quantity != nil {
		o.Quantity = *in.Quantity
	}

	a.mu.Lock()
	if _, ok := a.pets[o.PetID]; !ok {
		a.mu.Unlock()
		writeProblem(w, r, http.StatusUnprocessableEntity, "pet_id is not a known pet")
		return
	}
	if len(a.orders) >= MaxOrders {
		a.mu.Unlock()
		writeProblem(w, r, http.StatusInsufficientStorage, "the demo store is full")
		return
	}
	o.ID = "ord-" + strconv.Itoa(a.nextOrder)
	a.nextOrder++
	e := encode(o)
	a.orders[o.ID] = e
	a.orderIDs = append(a.orderIDs, o.ID)
	a.mu.Unlock()

	w.Header().Set("Location", "/orders/"+o.ID)
	writeJSON(w, http.StatusCreated, e.enc)
}

func (a *api) getOrder(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !orderIDPattern.MatchString(id) {
		writeProblem(w, r, http.StatusBadRequest, "order id must look like ord-1001")
		return
	}
	a.mu.RLock()
	o, ok := a.orders[id]
	a.mu.RUnlock()
	if !ok {
		writeProblem(w, r, http.StatusNotFound, "no order with this id")
		return
	}
	writeJSON(w, http.StatusOK, o.enc)
}

// --- health and fallbacks ---

var healthBody = []byte(`{"status":"ok"}`)

func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, healthBody)
}

// probeMethods are the methods tried to build the Allow header of a 405.
var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}

// unmatched answers requests no route takes: 405 with Allow when the path
// exists for other methods, else 404. It only runs on errors, so it can
// afford to ask the mux once per method.
func (a *api) unmatched(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range probeMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := a.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, r, http.StatusMethodNotAllowed, "this method is not allowed on this path")
		return
	}
	writeProblem(w, r, http.StatusNotFound, "no such path")
}

// --- encoding ---

// Header values shared by every response; net/http never modifies them.
var (
	jsonType    = []string{"application/json"}
	problemType = []string{"application/problem+json"}
)

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// problem is an RFC 9457 problem details document.
type problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// writeProblem answers with a problem document. detail must be a fixed
// sentence: request data is never echoed back.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	body, _ := json.Marshal(problem{
		Type:     "about:blank",
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   detail,
		Instance: r.URL.EscapedPath(),
	})
	h := w.Header()
	h["Content-Type"] = problemType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// readJSON decodes a JSON request body into v, answering the client and
// returning false when the body is not acceptable: wrong media type (415),
// too large (413), not one JSON object of the expected shape, or unknown
// fields (400).
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeProblem(w, r, http.StatusUnsupportedMediaType, "the body must be application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		if extra := dec.Decode(new(json.RawMessage)); extra != io.EOF {
			err = errors.Join(errors.New("trailing data after the JSON object"), extra)
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes))
			return false
		}
		writeProblem(w, r, http.StatusBadRequest, "the body must be one JSON object with the documented fields and types")
		return false
	}
	return true
}

// joinJSON builds a JSON array from encoded elements.
func joinJSON(elems [][]byte) []byte {
	n := 2
	for _, e := range elems {
		n += len(e) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, e := range elems {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, ']')
}
