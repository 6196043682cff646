# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_scimctl_global_optspecs
    string join \n addr= profile= o/output= jq= columns= no-pager yes q/quiet v/verbose h/help V/version
end

function __fish_scimctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_scimctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_scimctl_using_subcommand
    set -l cmd (__fish_scimctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c scimctl -n "__fish_scimctl_needs_command" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_needs_command" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_needs_command" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_needs_command" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_needs_command" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_needs_command" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_needs_command" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_needs_command" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_needs_command" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_needs_command" -s V -l version -d 'Print version'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "server" -d 'Run the SCIM provisioning service'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "login" -d 'Store an API key for this profile, after checking it with the server'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "logout" -d 'Forget this profile\'s stored API key'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "whoami" -d 'Show the API key in use: its id, name, scopes and expiry'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "auth" -d 'Show which profile, server and credential are in use, and whether they work'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "profiles" -d 'List the configured profiles'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "keys" -d 'Create, list, show and revoke API keys'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "provisioning" -d 'Show or switch automatic provisioning of new users by the IdP'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "deprovisioning" -d 'Show or switch automatic deprovisioning of deactivated users'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "default-role" -d 'Show or set the role every newly provisioned user gets'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "roles" -d 'List, create and delete roles (named sets of permissions)'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "mappings" -d 'Grant roles for IdP groups and SCIM role values (identity mappings)'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "allowlist" -d 'List and change the IP allowlist; check whether an address may connect'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "users" -d 'List, show and create users; deprovision, verify and reactivate them'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "groups" -d 'List and show groups and their members'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "locks" -d 'List and remove the locks that block deprovisioned users\' credentials'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "sessions" -d 'Issue session tokens for users'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "introspect" -d 'Check whether a session token or API key is live; exit 0 if so, 5 if not'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "audit" -d 'Read the audit log: who changed what, when, from where'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "scim" -d 'See what identity providers sent to /scim/v2 and what they were answered (the server\'s request journal)'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "drift" -d 'Compare an IdP\'s user export with the directory; exit 5 on drift'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "doctor" -d 'Check an IdP connection before go-live; exit 5 if any check fails'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -l config -d 'Settings file (TOML: listen, database, body_limit, trusted_proxies, [limits]); flags win over it' -r -F
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -l listen -d 'Address to listen on [default: 127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -l database -d 'sqlite:///path/to/scimctl.db or postgres://user:password@host/database' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -l dev -d 'Throwaway server: SQLite in a fresh temporary directory, deleted on exit'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -f -a "recover" -d 'Break-glass repair on the server\'s host, bypassing the API'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and not __fish_seen_subcommand_from recover help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from recover" -l database -d 'The server\'s database: sqlite:///path/to/scimctl.db or postgres://…' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from recover" -l config -d 'The server\'s settings file, to take `database` from' -r -F
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from recover" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from recover" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from recover" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from recover" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from recover" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from recover" -l new-admin-key -d 'Mint a new API key with every scope; its token is printed once'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from recover" -l clear-allowlist -d 'Empty the IP allowlist, so every address may connect again'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from recover" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from recover" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from recover" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from recover" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from recover" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from help" -f -a "recover" -d 'Break-glass repair on the server\'s host, bypassing the API'
complete -c scimctl -n "__fish_scimctl_using_subcommand server; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -l token-stdin -d 'Read the API key from standard input (its first line)'
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and not __fish_seen_subcommand_from status help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and not __fish_seen_subcommand_from status help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and not __fish_seen_subcommand_from status help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and not __fish_seen_subcommand_from status help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and not __fish_seen_subcommand_from status help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and not __fish_seen_subcommand_from status help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and not __fish_seen_subcommand_from status help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and not __fish_seen_subcommand_from status help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and not __fish_seen_subcommand_from status help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and not __fish_seen_subcommand_from status help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and not __fish_seen_subcommand_from status help" -f -a "status" -d 'Show the profile, server, credential and key in use, and whether they work'
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and not __fish_seen_subcommand_from status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and __fish_seen_subcommand_from status" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and __fish_seen_subcommand_from status" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and __fish_seen_subcommand_from status" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and __fish_seen_subcommand_from status" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and __fish_seen_subcommand_from status" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and __fish_seen_subcommand_from status" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and __fish_seen_subcommand_from status" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show the profile, server, credential and key in use, and whether they work'
complete -c scimctl -n "__fish_scimctl_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and not __fish_seen_subcommand_from list help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and not __fish_seen_subcommand_from list help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and not __fish_seen_subcommand_from list help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and not __fish_seen_subcommand_from list help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and not __fish_seen_subcommand_from list help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and not __fish_seen_subcommand_from list help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and not __fish_seen_subcommand_from list help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and not __fish_seen_subcommand_from list help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and not __fish_seen_subcommand_from list help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and not __fish_seen_subcommand_from list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and not __fish_seen_subcommand_from list help" -f -a "list" -d 'List every profile with its address and whether a key is stored'
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and not __fish_seen_subcommand_from list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and __fish_seen_subcommand_from list" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and __fish_seen_subcommand_from list" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and __fish_seen_subcommand_from list" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and __fish_seen_subcommand_from list" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and __fish_seen_subcommand_from list" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and __fish_seen_subcommand_from list" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and __fish_seen_subcommand_from help" -f -a "list" -d 'List every profile with its address and whether a key is stored'
complete -c scimctl -n "__fish_scimctl_using_subcommand profiles; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -f -a "create" -d 'Create an API key and print its token, this once'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -f -a "list" -d 'List API keys'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -f -a "show" -d 'Show one API key, by id or by name'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -f -a "revoke" -d 'Revoke an API key (by id or by name): every request with it fails from now on'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l name -d 'What the key is for, e.g. "okta-prod" or "ci-deploy"' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l scope -d 'A permission of the key; repeat it or separate scopes with commas' -r -f -a "scim:provision\t'everything under /scim/v2: create, change, deactivate and delete users and groups; provisioned users get the default role'
users:read\t'list and show users, verification reports, locks, the circuit breaker\'s state'
users:write\t'create users by hand, and give or take away their roles by hand, within its own scopes'
users:deprovision\t'deprovision, deactivate and reactivate users; remove locks; protect and unprotect users; release or reset the circuit breaker'
groups:read\t'list and show groups'
keys:manage\t'create, list and revoke API keys, within its own scopes'
settings:manage\t'the auto-provisioning and auto-deprovisioning switches, the circuit breaker\'s thresholds and the default role (within its own scopes)'
allowlist:manage\t'change and check the IP allowlist'
roles:manage\t'list, create and delete roles, within its own scopes'
audit:read\t'read the audit log'
sessions:issue\t'start a session for any active, unlocked user: the SSO front door\'s power, so a key holding it can act as anyone'
sessions:introspect\t'ask whether a session token or API key is live, and for whom'"
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l expires -d 'When the key stops working [default: never]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l owner -d 'Make it a personal key of this user (userName or id)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -l limit -d 'List at most N results [default: all]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -l all -d 'Include revoked keys'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l force -d 'Revoke even the key you are using, or the last live key that can manage keys (recovery then needs `scimctl server recover` on the host)'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create an API key and print its token, this once'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "list" -d 'List API keys'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one API key, by id or by name'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke an API key (by id or by name): every request with it fails from now on'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and not __fish_seen_subcommand_from status enable disable breaker help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and not __fish_seen_subcommand_from status enable disable breaker help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and not __fish_seen_subcommand_from status enable disable breaker help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and not __fish_seen_subcommand_from status enable disable breaker help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and not __fish_seen_subcommand_from status enable disable breaker help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and not __fish_seen_subcommand_from status enable disable breaker help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and not __fish_seen_subcommand_from status enable disable breaker help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and not __fish_seen_subcommand_from status enable disable breaker help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and not __fish_seen_subcommand_from status enable disable breaker help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and not __fish_seen_subcommand_from status enable disable breaker help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and not __fish_seen_subcommand_from status enable disable breaker help" -f -a "status" -d 'Show whether it is on, and what that means (and the circuit breaker)'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and not __fish_seen_subcommand_from status enable disable breaker help" -f -a "enable" -d 'Turn it on, on every replica at once'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and not __fish_seen_subcommand_from status enable disable breaker help" -f -a "disable" -d 'Turn it off, on every replica at once'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and not __fish_seen_subcommand_from status enable disable breaker help" -f -a "breaker" -d 'The mass-deprovisioning circuit breaker'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and not __fish_seen_subcommand_from status enable disable breaker help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from status" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from status" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from status" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from status" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from status" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from status" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from status" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from enable" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from enable" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from enable" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from enable" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from enable" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from enable" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from enable" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from enable" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from enable" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from enable" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from disable" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from disable" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from disable" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from disable" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from disable" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from disable" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from disable" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from disable" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from disable" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from disable" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from breaker" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from breaker" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from breaker" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from breaker" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from breaker" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from breaker" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from breaker" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from breaker" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from breaker" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from breaker" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from breaker" -f -a "status" -d 'Show the breaker: state, window, threshold now, count in the window and the held users'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from breaker" -f -a "release" -d 'Apply exactly the held deprovisionings, then close the breaker'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from breaker" -f -a "reset" -d 'Discard the held deprovisionings and close the breaker'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from breaker" -f -a "set" -d 'Change when the breaker opens'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from breaker" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show whether it is on, and what that means (and the circuit breaker)'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from help" -f -a "enable" -d 'Turn it on, on every replica at once'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from help" -f -a "disable" -d 'Turn it off, on every replica at once'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from help" -f -a "breaker" -d 'The mass-deprovisioning circuit breaker'
complete -c scimctl -n "__fish_scimctl_using_subcommand provisioning; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and not __fish_seen_subcommand_from status enable disable help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and not __fish_seen_subcommand_from status enable disable help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and not __fish_seen_subcommand_from status enable disable help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and not __fish_seen_subcommand_from status enable disable help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and not __fish_seen_subcommand_from status enable disable help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and not __fish_seen_subcommand_from status enable disable help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and not __fish_seen_subcommand_from status enable disable help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and not __fish_seen_subcommand_from status enable disable help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and not __fish_seen_subcommand_from status enable disable help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and not __fish_seen_subcommand_from status enable disable help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and not __fish_seen_subcommand_from status enable disable help" -f -a "status" -d 'Show whether it is on, and what that means'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and not __fish_seen_subcommand_from status enable disable help" -f -a "enable" -d 'Turn it on, on every replica at once'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and not __fish_seen_subcommand_from status enable disable help" -f -a "disable" -d 'Turn it off, on every replica at once'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and not __fish_seen_subcommand_from status enable disable help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from status" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from status" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from status" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from status" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from status" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from status" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from status" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from enable" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from enable" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from enable" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from enable" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from enable" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from enable" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from enable" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from enable" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from enable" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from enable" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from disable" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from disable" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from disable" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from disable" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from disable" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from disable" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from disable" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from disable" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from disable" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from disable" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show whether it is on, and what that means'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from help" -f -a "enable" -d 'Turn it on, on every replica at once'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from help" -f -a "disable" -d 'Turn it off, on every replica at once'
complete -c scimctl -n "__fish_scimctl_using_subcommand deprovisioning; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and not __fish_seen_subcommand_from show set help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and not __fish_seen_subcommand_from show set help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and not __fish_seen_subcommand_from show set help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and not __fish_seen_subcommand_from show set help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and not __fish_seen_subcommand_from show set help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and not __fish_seen_subcommand_from show set help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and not __fish_seen_subcommand_from show set help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and not __fish_seen_subcommand_from show set help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and not __fish_seen_subcommand_from show set help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and not __fish_seen_subcommand_from show set help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and not __fish_seen_subcommand_from show set help" -f -a "show" -d 'Show the role new users get'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and not __fish_seen_subcommand_from show set help" -f -a "set" -d 'Make ROLE the one every newly provisioned user gets'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and not __fish_seen_subcommand_from show set help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from show" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from show" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from show" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from show" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from show" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from show" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from set" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from set" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from set" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from set" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from set" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from set" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from set" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from set" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from set" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show the role new users get'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from help" -f -a "set" -d 'Make ROLE the one every newly provisioned user gets'
complete -c scimctl -n "__fish_scimctl_using_subcommand default-role; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and not __fish_seen_subcommand_from list create delete help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and not __fish_seen_subcommand_from list create delete help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and not __fish_seen_subcommand_from list create delete help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and not __fish_seen_subcommand_from list create delete help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and not __fish_seen_subcommand_from list create delete help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and not __fish_seen_subcommand_from list create delete help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and not __fish_seen_subcommand_from list create delete help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and not __fish_seen_subcommand_from list create delete help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and not __fish_seen_subcommand_from list create delete help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and not __fish_seen_subcommand_from list create delete help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and not __fish_seen_subcommand_from list create delete help" -f -a "list" -d 'List roles with their permissions and how many users hold each'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and not __fish_seen_subcommand_from list create delete help" -f -a "create" -d 'Create a custom role'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and not __fish_seen_subcommand_from list create delete help" -f -a "delete" -d 'Delete a custom role'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and not __fish_seen_subcommand_from list create delete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from list" -l limit -d 'List at most N results [default: all]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from list" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from list" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from list" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from list" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from list" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from list" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from create" -l permission -d 'A permission of the role; repeat it or separate permissions with commas' -r -f -a "scim:provision\t'everything under /scim/v2: create, change, deactivate and delete users and groups; provisioned users get the default role'
users:read\t'list and show users, verification reports, locks, the circuit breaker\'s state'
users:write\t'create users by hand, and give or take away their roles by hand, within its own scopes'
users:deprovision\t'deprovision, deactivate and reactivate users; remove locks; protect and unprotect users; release or reset the circuit breaker'
groups:read\t'list and show groups'
keys:manage\t'create, list and revoke API keys, within its own scopes'
settings:manage\t'the auto-provisioning and auto-deprovisioning switches, the circuit breaker\'s thresholds and the default role (within its own scopes)'
allowlist:manage\t'change and check the IP allowlist'
roles:manage\t'list, create and delete roles, within its own scopes'
audit:read\t'read the audit log'
sessions:issue\t'start a session for any active, unlocked user: the SSO front door\'s power, so a key holding it can act as anyone'
sessions:introspect\t'ask whether a session token or API key is live, and for whom'"
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from create" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from create" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from create" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from create" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from create" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from create" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from create" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from delete" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from delete" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from delete" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from delete" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from delete" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from delete" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from delete" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from help" -f -a "list" -d 'List roles with their permissions and how many users hold each'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a custom role'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a custom role'
complete -c scimctl -n "__fish_scimctl_using_subcommand roles; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and not __fish_seen_subcommand_from list add remove help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and not __fish_seen_subcommand_from list add remove help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and not __fish_seen_subcommand_from list add remove help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and not __fish_seen_subcommand_from list add remove help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and not __fish_seen_subcommand_from list add remove help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and not __fish_seen_subcommand_from list add remove help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and not __fish_seen_subcommand_from list add remove help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and not __fish_seen_subcommand_from list add remove help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and not __fish_seen_subcommand_from list add remove help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and not __fish_seen_subcommand_from list add remove help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and not __fish_seen_subcommand_from list add remove help" -f -a "list" -d 'List the mappings: which group or SCIM role grants which role'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and not __fish_seen_subcommand_from list add remove help" -f -a "add" -d 'Grant ROLE to everyone in a group, or with a SCIM roles value'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and not __fish_seen_subcommand_from list add remove help" -f -a "remove" -d 'Remove a mapping: its role goes from everyone who has it from no other source'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and not __fish_seen_subcommand_from list add remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from list" -l limit -d 'List at most N results [default: all]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from list" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from list" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from list" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from list" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from list" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from list" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from add" -l group -d 'The group: its display name (any case) or id' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from add" -l scim-role -d 'A value of the SCIM roles attribute (an Entra ID app role\'s value), matched ignoring case' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from add" -l role -d 'The role to grant' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from add" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from add" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from add" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from add" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from add" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from add" -l dry-run -d 'Show who would gain the role, and change nothing'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from add" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from add" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from add" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from remove" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from remove" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from remove" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from remove" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from remove" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from remove" -l dry-run -d 'Show who would lose the role, and change nothing'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from remove" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from remove" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the mappings: which group or SCIM role grants which role'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from help" -f -a "add" -d 'Grant ROLE to everyone in a group, or with a SCIM roles value'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a mapping: its role goes from everyone who has it from no other source'
complete -c scimctl -n "__fish_scimctl_using_subcommand mappings; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -f -a "list" -d 'List the entries of the IP allowlist'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -f -a "add" -d 'Add entries: CIDRs (10.0.0.0/8, 2001:db8::/32) or bare addresses'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -f -a "remove" -d 'Remove entries'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -f -a "replace" -d 'Replace the whole allowlist with the entries of a file'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -f -a "check" -d 'Check whether an address is allowed: exit 0 if it is, 5 if not'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and not __fish_seen_subcommand_from list add remove replace check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from list" -l limit -d 'List at most N results [default: all]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from list" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from list" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from list" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from list" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from list" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from list" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from add" -l note -d 'A note kept with every entry added, e.g. "office VPN"' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from add" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from add" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from add" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from add" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from add" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from add" -l force -d 'Make the change even if it shuts out the address you connect from'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from add" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from add" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from add" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from remove" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from remove" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from remove" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from remove" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from remove" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from remove" -l force -d 'Make the change even if it shuts out the address you connect from'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from remove" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from remove" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from replace" -l file -d 'The new list, one entry per line; `-` reads standard input' -r -F
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from replace" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from replace" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from replace" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from replace" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from replace" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from replace" -l force -d 'Make the change even if it shuts out the address you connect from'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from replace" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from replace" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from replace" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from replace" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from replace" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from check" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from check" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from check" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from check" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from check" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from check" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from check" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the entries of the IP allowlist'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add entries: CIDRs (10.0.0.0/8, 2001:db8::/32) or bare addresses'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove entries'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from help" -f -a "replace" -d 'Replace the whole allowlist with the entries of a file'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check whether an address is allowed: exit 0 if it is, 5 if not'
complete -c scimctl -n "__fish_scimctl_using_subcommand allowlist; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -f -a "list" -d 'List users, ordered by userName'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -f -a "show" -d 'Show one user: roles, groups, emails, deprovisioning state'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -f -a "create" -d 'Create a user by hand (for organisations without an IdP yet, and for tests)'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -f -a "grant" -d 'Give a user roles by hand'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -f -a "revoke" -d 'Take away roles given by hand'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -f -a "deprovision" -d 'Take away all of a user\'s access, in one step'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -f -a "verify" -d 'Check that a user has no access left; exit 0 only if so'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -f -a "reactivate" -d 'Give a deprovisioned user access again'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -f -a "why" -d 'Explain a user\'s access: each role with where it comes from, each group with how it came'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -f -a "protect" -d 'Protect a user from the IdP: never deprovisioned, deleted or demoted by SCIM'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -f -a "unprotect" -d 'Lift a user\'s protection'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and not __fish_seen_subcommand_from list show create grant revoke deprovision verify reactivate why protect unprotect help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -l role -d 'Only users with this role (an unknown role exits 3)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -l group -d 'Only members of this group: display name or id (an unknown group exits 3)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -l search -d 'Only users whose userName, display name or an email contains TEXT (ignoring case)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -l filter -d 'Only users a SCIM filter matches, e.g. \'userName sw "a" and active eq true\'' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -l limit -d 'List at most N results [default: all]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -l page-size -d 'Results fetched per request, 1 to 1000 [default: 100]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -l active -d 'Only active users'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -l inactive -d 'Only inactive users (deprovisioned, or deactivated by the IdP)'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -l pending -d 'Only users deactivated by the IdP whose access is not yet torn down'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from show" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from show" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from show" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from show" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from show" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from show" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from create" -l email -d 'An email address; repeat for several (the first is primary)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from create" -l display-name -d 'The name shown for people, e.g. "Alice Example"' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from create" -l role -d 'A role to give; repeat for several [default: the default role]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from create" -l group -d 'A group to join by display name; repeat for several. Each must exist unless --create-groups is given' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from create" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from create" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from create" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from create" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from create" -l create-groups -d 'Create the --group groups that do not exist yet'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from create" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from create" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from create" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from grant" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from grant" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from grant" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from grant" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from grant" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from grant" -l dry-run -d 'Show what would change, and change nothing'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from grant" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from grant" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from grant" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from grant" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from grant" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from revoke" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from revoke" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from revoke" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from revoke" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from revoke" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from revoke" -l dry-run -d 'Show what would change, and change nothing'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from revoke" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from revoke" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from revoke" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from revoke" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from deprovision" -l reason -d 'Why, for the audit log and the lock, e.g. "left the company"' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from deprovision" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from deprovision" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from deprovision" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from deprovision" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from deprovision" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from deprovision" -l dry-run -d 'Show what would be removed, change nothing, and do not ask'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from deprovision" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from deprovision" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from deprovision" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from deprovision" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from deprovision" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from verify" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from verify" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from verify" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from verify" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from verify" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from verify" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from verify" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from verify" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from reactivate" -l reason -d 'Why, for the audit log' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from reactivate" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from reactivate" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from reactivate" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from reactivate" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from reactivate" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from reactivate" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from reactivate" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from reactivate" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from reactivate" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from reactivate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from why" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from why" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from why" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from why" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from why" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from why" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from why" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from why" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from why" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from why" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from protect" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from protect" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from protect" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from protect" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from protect" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from protect" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from protect" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from protect" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from protect" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from protect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from unprotect" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from unprotect" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from unprotect" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from unprotect" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from unprotect" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from unprotect" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from unprotect" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from unprotect" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from unprotect" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from unprotect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "list" -d 'List users, ordered by userName'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one user: roles, groups, emails, deprovisioning state'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a user by hand (for organisations without an IdP yet, and for tests)'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "grant" -d 'Give a user roles by hand'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Take away roles given by hand'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "deprovision" -d 'Take away all of a user\'s access, in one step'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check that a user has no access left; exit 0 only if so'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "reactivate" -d 'Give a deprovisioned user access again'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "why" -d 'Explain a user\'s access: each role with where it comes from, each group with how it came'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "protect" -d 'Protect a user from the IdP: never deprovisioned, deleted or demoted by SCIM'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "unprotect" -d 'Lift a user\'s protection'
complete -c scimctl -n "__fish_scimctl_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and not __fish_seen_subcommand_from list show help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and not __fish_seen_subcommand_from list show help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and not __fish_seen_subcommand_from list show help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and not __fish_seen_subcommand_from list show help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and not __fish_seen_subcommand_from list show help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and not __fish_seen_subcommand_from list show help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and not __fish_seen_subcommand_from list show help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and not __fish_seen_subcommand_from list show help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and not __fish_seen_subcommand_from list show help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and not __fish_seen_subcommand_from list show help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and not __fish_seen_subcommand_from list show help" -f -a "list" -d 'List groups with their member counts, ordered by display name'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and not __fish_seen_subcommand_from list show help" -f -a "show" -d 'Show one group and its members'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and not __fish_seen_subcommand_from list show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from list" -l limit -d 'List at most N results [default: all]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from list" -l page-size -d 'Results fetched per request, 1 to 1000 [default: 100]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from list" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from list" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from list" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from list" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from list" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from list" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from show" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from show" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from show" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from show" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from show" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from show" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from help" -f -a "list" -d 'List groups with their member counts, ordered by display name'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one group and its members'
complete -c scimctl -n "__fish_scimctl_using_subcommand groups; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and not __fish_seen_subcommand_from list remove help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and not __fish_seen_subcommand_from list remove help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and not __fish_seen_subcommand_from list remove help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and not __fish_seen_subcommand_from list remove help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and not __fish_seen_subcommand_from list remove help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and not __fish_seen_subcommand_from list remove help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and not __fish_seen_subcommand_from list remove help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and not __fish_seen_subcommand_from list remove help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and not __fish_seen_subcommand_from list remove help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and not __fish_seen_subcommand_from list remove help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and not __fish_seen_subcommand_from list remove help" -f -a "list" -d 'List locks: whose credentials are blocked, since when, and why'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and not __fish_seen_subcommand_from list remove help" -f -a "remove" -d 'Remove a lock: the user\'s credentials are no longer blocked by it'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and not __fish_seen_subcommand_from list remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from list" -l limit -d 'List at most N results [default: all]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from list" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from list" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from list" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from list" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from list" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from list" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from remove" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from remove" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from remove" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from remove" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from remove" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from remove" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from remove" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from help" -f -a "list" -d 'List locks: whose credentials are blocked, since when, and why'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a lock: the user\'s credentials are no longer blocked by it'
complete -c scimctl -n "__fish_scimctl_using_subcommand locks; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and not __fish_seen_subcommand_from issue help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and not __fish_seen_subcommand_from issue help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and not __fish_seen_subcommand_from issue help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and not __fish_seen_subcommand_from issue help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and not __fish_seen_subcommand_from issue help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and not __fish_seen_subcommand_from issue help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and not __fish_seen_subcommand_from issue help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and not __fish_seen_subcommand_from issue help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and not __fish_seen_subcommand_from issue help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and not __fish_seen_subcommand_from issue help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and not __fish_seen_subcommand_from issue help" -f -a "issue" -d 'Issue a session token for a user and print it, this once'
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and not __fish_seen_subcommand_from issue help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and __fish_seen_subcommand_from issue" -l ttl -d 'How long the session lasts, 1m to 30d [default: 8h]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and __fish_seen_subcommand_from issue" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and __fish_seen_subcommand_from issue" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and __fish_seen_subcommand_from issue" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and __fish_seen_subcommand_from issue" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and __fish_seen_subcommand_from issue" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and __fish_seen_subcommand_from issue" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and __fish_seen_subcommand_from issue" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and __fish_seen_subcommand_from issue" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and __fish_seen_subcommand_from issue" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and __fish_seen_subcommand_from issue" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and __fish_seen_subcommand_from help" -f -a "issue" -d 'Issue a session token for a user and print it, this once'
complete -c scimctl -n "__fish_scimctl_using_subcommand sessions; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand introspect" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand introspect" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand introspect" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand introspect" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand introspect" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand introspect" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand introspect" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand introspect" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand introspect" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand introspect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -f -a "list" -d 'List audit entries, newest first, or follow new ones as they happen'
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and not __fish_seen_subcommand_from list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l since -d 'Only entries from this time on' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l until -d 'Only entries before this time (same forms as --since)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l actor -d 'Only entries by this API key: its id or its name (`system` for the server itself)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l action -d 'Only this action (key.create), or a family of them (user.*)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l target -d 'Only entries about this target: a user (id or userName, any case), a key id, a group\'s name, a path' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l outcome -d 'Only entries with this outcome' -r -f -a "success\t''
denied\t''"
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l limit -d 'List at most N results [default: all]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l page-size -d 'Results fetched per request, 1 to 1000 [default: 100]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -s f -l follow -d 'Keep printing new entries as they are recorded, until Ctrl-C'
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "list" -d 'List audit entries, newest first, or follow new ones as they happen'
complete -c scimctl -n "__fish_scimctl_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and not __fish_seen_subcommand_from log show explain replay help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and not __fish_seen_subcommand_from log show explain replay help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and not __fish_seen_subcommand_from log show explain replay help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and not __fish_seen_subcommand_from log show explain replay help" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and not __fish_seen_subcommand_from log show explain replay help" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and not __fish_seen_subcommand_from log show explain replay help" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and not __fish_seen_subcommand_from log show explain replay help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and not __fish_seen_subcommand_from log show explain replay help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and not __fish_seen_subcommand_from log show explain replay help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and not __fish_seen_subcommand_from log show explain replay help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and not __fish_seen_subcommand_from log show explain replay help" -f -a "log" -d 'List SCIM requests the identity provider sent, newest first'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and not __fish_seen_subcommand_from log show explain replay help" -f -a "show" -d 'Show one SCIM request and its answer, whole, and the audit entries it wrote'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and not __fish_seen_subcommand_from log show explain replay help" -f -a "explain" -d 'Explain one SCIM request: why it was answered as it was, and the fix'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and not __fish_seen_subcommand_from log show explain replay help" -f -a "replay" -d 'Show what one SCIM request would do if the identity provider sent it again now, changing nothing'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and not __fish_seen_subcommand_from log show explain replay help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -l user -d 'Only requests about this user: id or userName (any case)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -l status -d 'Only this status (409) or class of statuses (4xx, 5xx)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -l since -d 'Only requests from this time on: a duration ago (30m, 1h, 7d) or an RFC 3339 time' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -l limit -d 'List at most N results [default: all]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -l page-size -d 'Results fetched per request, 1 to 1000 [default: 100]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -l failed -d 'Only requests answered with an error (status 400 or more)'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -s f -l follow -d 'Keep printing new requests as they come, until Ctrl-C'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from log" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from show" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from show" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from show" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from show" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from show" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from show" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from explain" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from explain" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from explain" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from explain" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from explain" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from explain" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from explain" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from explain" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from explain" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from explain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from replay" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from replay" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from replay" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from replay" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from replay" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from replay" -l dry-run -d 'Change nothing: show what the request would do (required; to apply it, retry it from the identity provider, which owns the change)'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from replay" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from replay" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from replay" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from replay" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from replay" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from help" -f -a "log" -d 'List SCIM requests the identity provider sent, newest first'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one SCIM request and its answer, whole, and the audit entries it wrote'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from help" -f -a "explain" -d 'Explain one SCIM request: why it was answered as it was, and the fix'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from help" -f -a "replay" -d 'Show what one SCIM request would do if the identity provider sent it again now, changing nothing'
complete -c scimctl -n "__fish_scimctl_using_subcommand scim; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand drift" -l from -d 'The IdP\'s user export, a CSV file (`-` for standard input)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand drift" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand drift" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand drift" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand drift" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand drift" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand drift" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand drift" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand drift" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand drift" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand drift" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand doctor" -l idp -d 'The IdP whose connection test to replay [default: both]' -r -f -a "okta\t'Okta: `GET /Users?filter=userName eq "<random>"&startIndex=1&count=1`'
entra\t'Microsoft Entra ID: `GET /Users?filter=userName eq "<random GUID>"`'"
complete -c scimctl -n "__fish_scimctl_using_subcommand doctor" -l ranges -d 'The IdP\'s egress ranges: one CIDR per line, `#` comments' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand doctor" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand doctor" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand doctor" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand doctor" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand doctor" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand doctor" -l token-stdin -d 'Read the IdP\'s SCIM key from standard input (its first line)'
complete -c scimctl -n "__fish_scimctl_using_subcommand doctor" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand doctor" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand doctor" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand doctor" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'
yaml\t'The same data as JSON, as YAML: a list is one sequence'
csv\t'A header line, then a row per item: the table\'s columns (as named by --columns), cells never truncated'"
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -l jq -d 'Filter the JSON output with a jq expression (implies -o json)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -l columns -d 'Table and CSV columns to show, in this order (e.g. id,name,status)' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -l no-pager -d 'Never send table output through a pager'
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "server" -d 'Run the SCIM provisioning service'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "login" -d 'Store an API key for this profile, after checking it with the server'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "logout" -d 'Forget this profile\'s stored API key'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "whoami" -d 'Show the API key in use: its id, name, scopes and expiry'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "auth" -d 'Show which profile, server and credential are in use, and whether they work'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "profiles" -d 'List the configured profiles'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "keys" -d 'Create, list, show and revoke API keys'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "provisioning" -d 'Show or switch automatic provisioning of new users by the IdP'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "deprovisioning" -d 'Show or switch automatic deprovisioning of deactivated users'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "default-role" -d 'Show or set the role every newly provisioned user gets'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "roles" -d 'List, create and delete roles (named sets of permissions)'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "mappings" -d 'Grant roles for IdP groups and SCIM role values (identity mappings)'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "allowlist" -d 'List and change the IP allowlist; check whether an address may connect'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "users" -d 'List, show and create users; deprovision, verify and reactivate them'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "groups" -d 'List and show groups and their members'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "locks" -d 'List and remove the locks that block deprovisioned users\' credentials'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "sessions" -d 'Issue session tokens for users'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "introspect" -d 'Check whether a session token or API key is live; exit 0 if so, 5 if not'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "audit" -d 'Read the audit log: who changed what, when, from where'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "scim" -d 'See what identity providers sent to /scim/v2 and what they were answered (the server\'s request journal)'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "drift" -d 'Compare an IdP\'s user export with the directory; exit 5 on drift'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "doctor" -d 'Check an IdP connection before go-live; exit 5 if any check fails'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami auth profiles keys provisioning deprovisioning default-role roles mappings allowlist users groups locks sessions introspect audit scim drift doctor completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from server" -f -a "recover" -d 'Break-glass repair on the server\'s host, bypassing the API'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "status" -d 'Show the profile, server, credential and key in use, and whether they work'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from profiles" -f -a "list" -d 'List every profile with its address and whether a key is stored'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "create" -d 'Create an API key and print its token, this once'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "list" -d 'List API keys'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "show" -d 'Show one API key, by id or by name'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "revoke" -d 'Revoke an API key (by id or by name): every request with it fails from now on'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from provisioning" -f -a "status" -d 'Show whether it is on, and what that means (and the circuit breaker)'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from provisioning" -f -a "enable" -d 'Turn it on, on every replica at once'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from provisioning" -f -a "disable" -d 'Turn it off, on every replica at once'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from provisioning" -f -a "breaker" -d 'The mass-deprovisioning circuit breaker'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from deprovisioning" -f -a "status" -d 'Show whether it is on, and what that means'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from deprovisioning" -f -a "enable" -d 'Turn it on, on every replica at once'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from deprovisioning" -f -a "disable" -d 'Turn it off, on every replica at once'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from default-role" -f -a "show" -d 'Show the role new users get'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from default-role" -f -a "set" -d 'Make ROLE the one every newly provisioned user gets'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from roles" -f -a "list" -d 'List roles with their permissions and how many users hold each'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from roles" -f -a "create" -d 'Create a custom role'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from roles" -f -a "delete" -d 'Delete a custom role'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from mappings" -f -a "list" -d 'List the mappings: which group or SCIM role grants which role'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from mappings" -f -a "add" -d 'Grant ROLE to everyone in a group, or with a SCIM roles value'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from mappings" -f -a "remove" -d 'Remove a mapping: its role goes from everyone who has it from no other source'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from allowlist" -f -a "list" -d 'List the entries of the IP allowlist'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from allowlist" -f -a "add" -d 'Add entries: CIDRs (10.0.0.0/8, 2001:db8::/32) or bare addresses'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from allowlist" -f -a "remove" -d 'Remove entries'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from allowlist" -f -a "replace" -d 'Replace the whole allowlist with the entries of a file'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from allowlist" -f -a "check" -d 'Check whether an address is allowed: exit 0 if it is, 5 if not'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "list" -d 'List users, ordered by userName'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "show" -d 'Show one user: roles, groups, emails, deprovisioning state'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "create" -d 'Create a user by hand (for organisations without an IdP yet, and for tests)'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "grant" -d 'Give a user roles by hand'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "revoke" -d 'Take away roles given by hand'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "deprovision" -d 'Take away all of a user\'s access, in one step'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "verify" -d 'Check that a user has no access left; exit 0 only if so'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "reactivate" -d 'Give a deprovisioned user access again'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "why" -d 'Explain a user\'s access: each role with where it comes from, each group with how it came'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "protect" -d 'Protect a user from the IdP: never deprovisioned, deleted or demoted by SCIM'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "unprotect" -d 'Lift a user\'s protection'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from groups" -f -a "list" -d 'List groups with their member counts, ordered by display name'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from groups" -f -a "show" -d 'Show one group and its members'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from locks" -f -a "list" -d 'List locks: whose credentials are blocked, since when, and why'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from locks" -f -a "remove" -d 'Remove a lock: the user\'s credentials are no longer blocked by it'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from sessions" -f -a "issue" -d 'Issue a session token for a user and print it, this once'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "list" -d 'List audit entries, newest first, or follow new ones as they happen'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from scim" -f -a "log" -d 'List SCIM requests the identity provider sent, newest first'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from scim" -f -a "show" -d 'Show one SCIM request and its answer, whole, and the audit entries it wrote'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from scim" -f -a "explain" -d 'Explain one SCIM request: why it was answered as it was, and the fix'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from scim" -f -a "replay" -d 'Show what one SCIM request would do if the identity provider sent it again now, changing nothing'
