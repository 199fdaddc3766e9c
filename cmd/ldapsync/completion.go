package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// Shell completion scripts. They call the binary with urfave/cli's hidden
// --generate-bash-completion flag, which lists the commands and flags that
// fit at the cursor.
const bashCompletion = `# ldapsync bash completion: source <(ldapsync completion bash)
_ldapsync_complete() {
  local cur opts
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == "-"* ]]; then
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  if [[ ${#COMPREPLY[@]} -eq 0 ]]; then COMPREPLY=($(compgen -f -- "${cur}")); fi
  return 0
}
complete -o default -F _ldapsync_complete ldapsync
`

const zshCompletion = `#compdef ldapsync
# ldapsync zsh completion: source <(ldapsync completion zsh)
_ldapsync() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _ldapsync ldapsync
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash or zsh)",
		ArgsUsage: "bash|zsh",
		Description: `completion prints a script that completes ldapsync's commands and flags.

Examples:
   source <(ldapsync completion bash)            # in ~/.bashrc
   ldapsync completion zsh > "${fpath[1]}/_ldapsync"`,
		Action: func(c *cli.Context) error {
			switch c.Args().First() {
			case "bash":
				_, err := fmt.Fprint(c.App.Writer, bashCompletion)
				return err
			case "zsh":
				_, err := fmt.Fprint(c.App.Writer, zshCompletion)
				return err
			default:
				return cli.Exit("Error: completion needs one argument: bash or zsh", exitError)
			}
		},
	}
}
