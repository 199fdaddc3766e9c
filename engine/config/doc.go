// Package config loads ldapsync configuration files: the HCL language
// described in DESIGN.md ("Configuration (HCL)") and, for the seed
// workflow, the original script's YAML format, which is converted to the
// equivalent HCL text and then parsed by the same loader.
//
// HCL and cty stay at this edge. Load hands callers plain Go values (the
// policy, the state path, group settings) plus the pieces that must stay
// unevaluated: source and target bodies, which the providers decode with
// EvalContext, and mapping expressions, which Mapping.Map evaluates once
// per directory entry with `entry` and `entry_values` in a child context.
//
// Decisions recorded here:
//   - Variable values are taken, highest precedence first, from -var
//     (WithVariables), -var-file (WithVarFiles), the environment variable
//     LDAPSYNC_VAR_<name>, then the variable's default. A -var for an
//     undeclared variable is an error; a var-file value for one is a warning.
//   - env() and file() exist only in variable defaults and in source/target
//     bodies; anywhere else they are errors at the call's range, found
//     before anything is evaluated.
//   - A mapping's source and target may be omitted when the configuration
//     declares exactly one source or target.
//   - Source names must be unique across source types, because a directory
//     entry carries only its source's name.
//   - An optional mapping field (first_name, last_name, full_name, groups)
//     whose expression fails because a directory attribute it reads is
//     absent is treated as empty; a required one (username, email) makes
//     the entry skipped with "missing required attribute X".
//   - PolicyRaw holds only the attributes written in the policy block.
//   - A mapping that lists several sources gives them precedence in that
//     order (see Mapping.SourceNames).
//   - Relative file paths resolve against the configuration file's
//     directory: file(), state.path, and the providers' file settings
//     (ca_cert_file), which they resolve while decoding with BlockContext.
//     providers/registry turns source and target blocks into providers.
//   - Secrets are this package's business (redact.go): one name rule
//     (SecretName) picks the settings whose values Secrets collects and
//     whose values printed source lines mask; Redactor removes every known
//     secret from text, log attributes (ReplaceAttr) and printed
//     diagnostics; WithoutValues strips the values hcl's printer would
//     show from connection-setting diagnostics.
//
// The groups block turns directory groups into ftrack group memberships
// (GroupSpecs hands it to the engine as engine.GroupSpec):
//
//	groups "studio" {
//	  source           = source.ldap.corp   # optional with one source
//	  base_dn          = "ou=groups,dc=example,dc=com"
//	  filter           = "(objectClass=groupOfNames)"  # default: every groupOfNames,
//	                                        # groupOfUniqueNames, posixGroup, AD group
//	  member_attribute = "member"           # member (default), uniqueMember,
//	                                        # memberUid (posixGroup: usernames), or
//	                                        # memberOf (read from the user entries)
//	  nested           = true               # follow groups in groups (cycles are safe)
//	  create_groups    = true               # create missing ftrack groups
//	  map = {
//	    "cn=artists,ou=groups,dc=example,dc=com" = "Artists"  # a DN, compared parsed
//	    "re:^ftrack-(.+)$"                       = "$1"       # a pattern on the group's cn
//	  }
//	}
//
// A group matching several map entries gives every name; an empty map
// gives every group its own cn. The names are merged with the mapping's
// own groups expression; every name a groups block maps to is managed (a
// user who leaves the directory group leaves the ftrack group). Members
// that are not users of the mapping are ignored and counted in a plan
// warning. create_groups in any groups block overrides the target's
// create_groups; when blocks disagree, false wins.
package config
