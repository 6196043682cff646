# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_scimctl_global_optspecs
    string join \n addr= profile= o/output= yes q/quiet v/verbose h/help V/version
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
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'"
complete -c scimctl -n "__fish_scimctl_needs_command" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_needs_command" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_needs_command" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_needs_command" -s V -l version -d 'Print version'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "server" -d 'Run the SCIM provisioning service'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "login" -d 'Store an API key for this profile, after checking it with the server'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "logout" -d 'Forget this profile\'s stored API key'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "whoami" -d 'Show the API key in use: its id, name, scopes and expiry'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "keys" -d 'Create, list, show and revoke API keys'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c scimctl -n "__fish_scimctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand server" -l config -d 'Settings file (TOML: listen, database, body_limit); flags win over it' -r -F
complete -c scimctl -n "__fish_scimctl_using_subcommand server" -l listen -d 'Address to listen on [default: 127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand server" -l database -d 'sqlite:///path/to/scimctl.db or postgres://user:password@host/database' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand server" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand server" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand server" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'"
complete -c scimctl -n "__fish_scimctl_using_subcommand server" -l dev -d 'Throwaway server: SQLite in a fresh temporary directory, deleted on exit'
complete -c scimctl -n "__fish_scimctl_using_subcommand server" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand server" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand server" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand server" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'"
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -l token-stdin -d 'Read the API key from standard input (its first line)'
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand login" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'"
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand logout" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'"
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand whoami" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'"
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -f -a "create" -d 'Create an API key and print its token, this once'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -f -a "list" -d 'List API keys'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -f -a "show" -d 'Show one API key'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -f -a "revoke" -d 'Revoke an API key: every request with it fails from now on'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and not __fish_seen_subcommand_from create list show revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l name -d 'What the key is for, e.g. "okta-prod" or "ci-deploy"' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l scope -d 'A permission of the key; repeat it or separate scopes with commas' -r -f -a "scim:provision\t''
users:read\t''
users:write\t''
users:deprovision\t''
groups:read\t''
keys:manage\t''
settings:manage\t''
allowlist:manage\t''
roles:manage\t''
audit:read\t''
sessions:issue\t''
sessions:introspect\t''"
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l expires -d 'When the key stops working [default: never]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'"
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'"
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -l all -d 'Include revoked keys'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'"
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'"
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create an API key and print its token, this once'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "list" -d 'List API keys'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one API key'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke an API key: every request with it fails from now on'
complete -c scimctl -n "__fish_scimctl_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -l addr -d 'Server address [default: the profile\'s, else http://127.0.0.1:8080]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -l profile -d 'Profile from config.toml [default: default_profile, else "default"]' -r
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -s o -l output -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'The admin API\'s JSON, pretty-printed: lists as arrays, one object for a single resource'"
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -l yes -d 'Confirm destructive commands without asking'
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -s q -l quiet -d 'Print no diagnostics on stderr: only data, and errors'
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -s v -l verbose -d 'Print the settings in use and each request on stderr'
complete -c scimctl -n "__fish_scimctl_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami keys completions help" -f -a "server" -d 'Run the SCIM provisioning service'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami keys completions help" -f -a "login" -d 'Store an API key for this profile, after checking it with the server'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami keys completions help" -f -a "logout" -d 'Forget this profile\'s stored API key'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami keys completions help" -f -a "whoami" -d 'Show the API key in use: its id, name, scopes and expiry'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami keys completions help" -f -a "keys" -d 'Create, list, show and revoke API keys'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami keys completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and not __fish_seen_subcommand_from server login logout whoami keys completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "create" -d 'Create an API key and print its token, this once'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "list" -d 'List API keys'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "show" -d 'Show one API key'
complete -c scimctl -n "__fish_scimctl_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "revoke" -d 'Revoke an API key: every request with it fails from now on'
