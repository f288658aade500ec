// Package deploy holds Portcullis's packaging (the Dockerfiles' files,
// the systemd unit, the Kubernetes manifests) and the tests that check it:
// `systemd-analyze verify` and `security` on the unit, the manifests
// against the Kubernetes API schemas (kubectl-validate), the scratch image
// built and run with a Docker daemon the test starts. See README.md.
package deploy
