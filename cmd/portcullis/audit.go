package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/audit"
)

// newAudit is `portcullis audit`: the tamper-evident audit log's tools.
func newAudit() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify the tamper-evident audit log, make its signing key",
		Long: `The audit log (events.audit) chains every security event and admin action
with SHA-256 and signs the chain's head with an ed25519 key at every
checkpoint. 'audit verify' checks a log and names each record that was
modified, deleted, inserted or reordered; 'audit keygen' writes a key pair.`,
	}
	var pubFile string
	var asJSON bool
	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check an audit log; exit 1 naming each tampered record",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var pub ed25519.PublicKey
			if pubFile != "" {
				k, err := audit.LoadPublicKey(pubFile)
				if err != nil {
					return err
				}
				pub = k
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			rep, err := audit.Verify(f, pub)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				_ = enc.Encode(rep)
			} else {
				for _, p := range rep.Problems {
					fmt.Fprintf(out, "%s: %s\n", args[0], p)
				}
				status := "OK"
				if !rep.OK() {
					status = fmt.Sprintf("TAMPERED (%d problems)", len(rep.Problems))
				}
				fmt.Fprintf(out, "%s: %s: %d records, %d signed checkpoints, %d records not yet under a checkpoint\n",
					args[0], status, rep.Records, rep.Checkpoints, rep.Unsigned)
				if pub == nil {
					for _, k := range rep.Keys {
						fmt.Fprintf(out, "%s: signatures checked against the key the log names (%s); pass --public-key to check who signed\n", args[0], k)
					}
				}
			}
			if !rep.OK() {
				return &exitError{code: 1, err: errors.New("audit log verification failed")}
			}
			return nil
		},
	}
	verify.Flags().StringVar(&pubFile, "public-key", "", "PEM ed25519 public key the checkpoints must be signed with")
	verify.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")

	var outFile string
	keygen := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Write an ed25519 signing key (FILE, mode 0600) and its public key (FILE.pub)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if outFile == "" {
				return errors.New("--out is required")
			}
			_, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			privPEM, pubPEM, err := audit.MarshalKeys(priv)
			if err != nil {
				return err
			}
			f, err := os.OpenFile(outFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			if _, err := f.Write(privPEM); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			if err := os.WriteFile(outFile+".pub", pubPEM, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (keep it secret) and %s (key id %s)\n", outFile, outFile+".pub",
				audit.KeyID(priv.Public().(ed25519.PublicKey)))
			return nil
		},
	}
	keygen.Flags().StringVar(&outFile, "out", "", "private key file to create")
	cmd.AddCommand(verify, keygen)
	return cmd
}
