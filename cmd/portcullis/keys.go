package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/stage/authn"
)

// newKeys is `portcullis keys`: API key management on a keys file. The
// file only ever holds hashes; a new key's secret is printed once.
func newKeys() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list, revoke and rotate API keys in a keys file",
		Long: `Manage the API keys file that an API's authn apikey method reads
(apis[].authn.methods[].apikey.file). The file holds only SHA-256 hashes of
the keys: a new key is printed once, when it is created or rotated, and
cannot be shown again. The gateway notices changes to the file by itself.`,
	}
	cmd.PersistentFlags().StringVarP(&file, "file", "f", "keys.yaml", "keys file")

	var owner, tier string
	var scopes, roles, cidrs []string
	var expires time.Duration
	create := &cobra.Command{
		Use:   "create --owner NAME",
		Short: "Create a key and print it once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if owner == "" {
				return errors.New("--owner is required")
			}
			kf, err := authn.LoadKeyFile(file)
			if err != nil {
				return err
			}
			now := time.Now()
			secret, k, err := authn.NewKey(owner, now)
			if err != nil {
				return err
			}
			k.Scopes, k.Roles, k.Tier, k.CIDRs = scopes, roles, tier, cidrs
			if expires > 0 {
				t := now.UTC().Add(expires).Truncate(time.Second)
				k.Expires = &t
			}
			kf.Keys = append(kf.Keys, k)
			if err := kf.Save(file); err != nil {
				return err
			}
			printSecret(cmd.OutOrStdout(), k, secret)
			return nil
		},
	}
	create.Flags().StringVar(&owner, "owner", "", "owner (becomes the principal id)")
	create.Flags().StringSliceVar(&scopes, "scope", nil, "scope (repeatable)")
	create.Flags().StringSliceVar(&roles, "role", nil, "role (repeatable)")
	create.Flags().StringVar(&tier, "tier", "", "rate-limit tier")
	create.Flags().StringSliceVar(&cidrs, "cidr", nil, "allowed client CIDR (repeatable; default any)")
	create.Flags().DurationVar(&expires, "expires", 0, "lifetime (e.g. 720h; default: no expiry)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kf, err := authn.LoadKeyFile(file)
			if err != nil {
				return err
			}
			now := time.Now()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tOWNER\tSTATUS\tROLES\tSCOPES\tTIER\tCREATED")
			for _, k := range kf.Keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Owner, keyStatus(k, now),
					strings.Join(k.Roles, ","), strings.Join(k.Scopes, ","), k.Tier, k.Created.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key (it stops working at once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kf, err := authn.LoadKeyFile(file)
			if err != nil {
				return err
			}
			if err := kf.Revoke(args[0], time.Now()); err != nil {
				return err
			}
			if err := kf.Save(file); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
			return nil
		},
	}

	var grace time.Duration
	rotate := &cobra.Command{
		Use:   "rotate ID",
		Short: "Replace a key; the old one keeps working for the grace period",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kf, err := authn.LoadKeyFile(file)
			if err != nil {
				return err
			}
			secret, k, err := kf.Rotate(args[0], grace, time.Now())
			if err != nil {
				return err
			}
			if err := kf.Save(file); err != nil {
				return err
			}
			printSecret(cmd.OutOrStdout(), k, secret)
			fmt.Fprintf(cmd.OutOrStdout(), "the old key %s keeps working until %s\n", args[0], kf.Find(args[0]).GraceUntil.Format(time.RFC3339))
			return nil
		},
	}
	rotate.Flags().DurationVar(&grace, "grace", 24*time.Hour, "how long the old key keeps working")

	cmd.AddCommand(create, list, revoke, rotate)
	return cmd
}

func printSecret(w io.Writer, k *authn.Key, secret string) {
	fmt.Fprintf(w, "id:    %s\nowner: %s\nkey:   %s\n", k.ID, k.Owner, secret)
	fmt.Fprintln(w, "Store the key now: only its hash is kept, it cannot be shown again.")
}

func keyStatus(k *authn.Key, now time.Time) string {
	switch {
	case k.Revoked != nil && !now.Before(*k.Revoked):
		return "revoked"
	case k.Expires != nil && !now.Before(*k.Expires):
		return "expired"
	case k.GraceUntil != nil && !now.Before(*k.GraceUntil):
		return "rotated"
	case k.GraceUntil != nil:
		return "rotating until " + k.GraceUntil.Format(time.RFC3339)
	}
	return "active"
}
