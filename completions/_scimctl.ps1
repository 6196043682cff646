
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'scimctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'scimctl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'scimctl' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('server', 'server', [CompletionResultType]::ParameterValue, 'Run the SCIM provisioning service')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Store an API key for this profile, after checking it with the server')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Forget this profile''s stored API key')
            [CompletionResult]::new('whoami', 'whoami', [CompletionResultType]::ParameterValue, 'Show the API key in use: its id, name, scopes and expiry')
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Show which profile, server and credential are in use, and whether they work')
            [CompletionResult]::new('profiles', 'profiles', [CompletionResultType]::ParameterValue, 'List the configured profiles')
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'Create, list, show and revoke API keys')
            [CompletionResult]::new('provisioning', 'provisioning', [CompletionResultType]::ParameterValue, 'Show or switch automatic provisioning of new users by the IdP')
            [CompletionResult]::new('deprovisioning', 'deprovisioning', [CompletionResultType]::ParameterValue, 'Show or switch automatic deprovisioning of deactivated users')
            [CompletionResult]::new('default-role', 'default-role', [CompletionResultType]::ParameterValue, 'Show or set the role every newly provisioned user gets')
            [CompletionResult]::new('roles', 'roles', [CompletionResultType]::ParameterValue, 'List, create and delete roles (named sets of permissions)')
            [CompletionResult]::new('mappings', 'mappings', [CompletionResultType]::ParameterValue, 'Grant roles for IdP groups and SCIM role values (identity mappings)')
            [CompletionResult]::new('allowlist', 'allowlist', [CompletionResultType]::ParameterValue, 'List and change the IP allowlist; check whether an address may connect')
            [CompletionResult]::new('users', 'users', [CompletionResultType]::ParameterValue, 'List, show and create users; deprovision, verify and reactivate them')
            [CompletionResult]::new('groups', 'groups', [CompletionResultType]::ParameterValue, 'List and show groups and their members')
            [CompletionResult]::new('locks', 'locks', [CompletionResultType]::ParameterValue, 'List and remove the locks that block deprovisioned users'' credentials')
            [CompletionResult]::new('sessions', 'sessions', [CompletionResultType]::ParameterValue, 'Issue session tokens for users')
            [CompletionResult]::new('introspect', 'introspect', [CompletionResultType]::ParameterValue, 'Check whether a session token or API key is live; exit 0 if so, 5 if not')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'Read the audit log: who changed what, when, from where')
            [CompletionResult]::new('scim', 'scim', [CompletionResultType]::ParameterValue, 'See what identity providers sent to /scim/v2 and what they were answered (the server''s request journal)')
            [CompletionResult]::new('drift', 'drift', [CompletionResultType]::ParameterValue, 'Compare an IdP''s user export with the directory; exit 5 on drift')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check an IdP connection before go-live; exit 5 if any check fails')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;server' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file (TOML: listen, database, body_limit, trusted_proxies, [limits]); flags win over it')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on [default: 127.0.0.1:8080]')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'sqlite:///path/to/scimctl.db or postgres://user:password@host/database')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--dev', '--dev', [CompletionResultType]::ParameterName, 'Throwaway server: SQLite in a fresh temporary directory, deleted on exit')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('recover', 'recover', [CompletionResultType]::ParameterValue, 'Break-glass repair on the server''s host, bypassing the API')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;server;recover' {
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The server''s database: sqlite:///path/to/scimctl.db or postgres://…')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The server''s settings file, to take `database` from')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--new-admin-key', '--new-admin-key', [CompletionResultType]::ParameterName, 'Mint a new API key with every scope; its token is printed once')
            [CompletionResult]::new('--clear-allowlist', '--clear-allowlist', [CompletionResultType]::ParameterName, 'Empty the IP allowlist, so every address may connect again')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;server;help' {
            [CompletionResult]::new('recover', 'recover', [CompletionResultType]::ParameterValue, 'Break-glass repair on the server''s host, bypassing the API')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;server;help;recover' {
            break
        }
        'scimctl;server;help;help' {
            break
        }
        'scimctl;login' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--token-stdin', '--token-stdin', [CompletionResultType]::ParameterName, 'Read the API key from standard input (its first line)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;logout' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;whoami' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;auth' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the profile, server, credential and key in use, and whether they work')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;auth;status' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;auth;help' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the profile, server, credential and key in use, and whether they work')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;auth;help;status' {
            break
        }
        'scimctl;auth;help;help' {
            break
        }
        'scimctl;profiles' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every profile with its address and whether a key is stored')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;profiles;list' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;profiles;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every profile with its address and whether a key is stored')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;profiles;help;list' {
            break
        }
        'scimctl;profiles;help;help' {
            break
        }
        'scimctl;keys' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an API key and print its token, this once')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List API keys')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one API key, by id or by name')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke an API key (by id or by name): every request with it fails from now on')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;keys;create' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'What the key is for, e.g. "okta-prod" or "ci-deploy"')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'A permission of the key; repeat it or separate scopes with commas')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'When the key stops working [default: never]')
            [CompletionResult]::new('--owner', '--owner', [CompletionResultType]::ParameterName, 'Make it a personal key of this user (userName or id)')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;keys;list' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'List at most N results [default: all]')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Include revoked keys')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;keys;show' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;keys;revoke' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Revoke even the key you are using, or the last live key that can manage keys (recovery then needs `scimctl server recover` on the host)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;keys;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an API key and print its token, this once')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List API keys')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one API key, by id or by name')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke an API key (by id or by name): every request with it fails from now on')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;keys;help;create' {
            break
        }
        'scimctl;keys;help;list' {
            break
        }
        'scimctl;keys;help;show' {
            break
        }
        'scimctl;keys;help;revoke' {
            break
        }
        'scimctl;keys;help;help' {
            break
        }
        'scimctl;provisioning' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show whether it is on, and what that means (and the circuit breaker)')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Turn it on, on every replica at once')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Turn it off, on every replica at once')
            [CompletionResult]::new('breaker', 'breaker', [CompletionResultType]::ParameterValue, 'The mass-deprovisioning circuit breaker')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;provisioning;status' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;provisioning;enable' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;provisioning;disable' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;provisioning;breaker' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the breaker: state, window, threshold now, count in the window and the held users')
            [CompletionResult]::new('release', 'release', [CompletionResultType]::ParameterValue, 'Apply exactly the held deprovisionings, then close the breaker')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Discard the held deprovisionings and close the breaker')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Change when the breaker opens')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;provisioning;breaker;status' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;provisioning;breaker;release' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'List the held users release would apply; change nothing, do not ask')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;provisioning;breaker;reset' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;provisioning;breaker;set' {
            [CompletionResult]::new('--threshold', '--threshold', [CompletionResultType]::ParameterName, 'Users per window that may be deprovisioned, at least 1 (default 25)')
            [CompletionResult]::new('--percent', '--percent', [CompletionResultType]::ParameterName, 'Share of active users per window, 1 to 100 (default 10)')
            [CompletionResult]::new('--window', '--window', [CompletionResultType]::ParameterName, 'The sliding window, from 1m to 1d, e.g. 10m or 1h (default 10m)')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;provisioning;breaker;help' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the breaker: state, window, threshold now, count in the window and the held users')
            [CompletionResult]::new('release', 'release', [CompletionResultType]::ParameterValue, 'Apply exactly the held deprovisionings, then close the breaker')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Discard the held deprovisionings and close the breaker')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Change when the breaker opens')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;provisioning;breaker;help;status' {
            break
        }
        'scimctl;provisioning;breaker;help;release' {
            break
        }
        'scimctl;provisioning;breaker;help;reset' {
            break
        }
        'scimctl;provisioning;breaker;help;set' {
            break
        }
        'scimctl;provisioning;breaker;help;help' {
            break
        }
        'scimctl;provisioning;help' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show whether it is on, and what that means (and the circuit breaker)')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Turn it on, on every replica at once')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Turn it off, on every replica at once')
            [CompletionResult]::new('breaker', 'breaker', [CompletionResultType]::ParameterValue, 'The mass-deprovisioning circuit breaker')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;provisioning;help;status' {
            break
        }
        'scimctl;provisioning;help;enable' {
            break
        }
        'scimctl;provisioning;help;disable' {
            break
        }
        'scimctl;provisioning;help;breaker' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the breaker: state, window, threshold now, count in the window and the held users')
            [CompletionResult]::new('release', 'release', [CompletionResultType]::ParameterValue, 'Apply exactly the held deprovisionings, then close the breaker')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Discard the held deprovisionings and close the breaker')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Change when the breaker opens')
            break
        }
        'scimctl;provisioning;help;breaker;status' {
            break
        }
        'scimctl;provisioning;help;breaker;release' {
            break
        }
        'scimctl;provisioning;help;breaker;reset' {
            break
        }
        'scimctl;provisioning;help;breaker;set' {
            break
        }
        'scimctl;provisioning;help;help' {
            break
        }
        'scimctl;deprovisioning' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show whether it is on, and what that means')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Turn it on, on every replica at once')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Turn it off, on every replica at once')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;deprovisioning;status' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;deprovisioning;enable' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;deprovisioning;disable' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;deprovisioning;help' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show whether it is on, and what that means')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Turn it on, on every replica at once')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Turn it off, on every replica at once')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;deprovisioning;help;status' {
            break
        }
        'scimctl;deprovisioning;help;enable' {
            break
        }
        'scimctl;deprovisioning;help;disable' {
            break
        }
        'scimctl;deprovisioning;help;help' {
            break
        }
        'scimctl;default-role' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show the role new users get')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Make ROLE the one every newly provisioned user gets')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;default-role;show' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;default-role;set' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;default-role;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show the role new users get')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Make ROLE the one every newly provisioned user gets')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;default-role;help;show' {
            break
        }
        'scimctl;default-role;help;set' {
            break
        }
        'scimctl;default-role;help;help' {
            break
        }
        'scimctl;roles' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List roles with their permissions and how many users hold each')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a custom role')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a custom role')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;roles;list' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'List at most N results [default: all]')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;roles;create' {
            [CompletionResult]::new('--permission', '--permission', [CompletionResultType]::ParameterName, 'A permission of the role; repeat it or separate permissions with commas')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;roles;delete' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;roles;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List roles with their permissions and how many users hold each')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a custom role')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a custom role')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;roles;help;list' {
            break
        }
        'scimctl;roles;help;create' {
            break
        }
        'scimctl;roles;help;delete' {
            break
        }
        'scimctl;roles;help;help' {
            break
        }
        'scimctl;mappings' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the mappings: which group or SCIM role grants which role')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Grant ROLE to everyone in a group, or with a SCIM roles value')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a mapping: its role goes from everyone who has it from no other source')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;mappings;list' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'List at most N results [default: all]')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;mappings;add' {
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'The group: its display name (any case) or id')
            [CompletionResult]::new('--scim-role', '--scim-role', [CompletionResultType]::ParameterName, 'A value of the SCIM roles attribute (an Entra ID app role''s value), matched ignoring case')
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'The role to grant')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show who would gain the role, and change nothing')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;mappings;remove' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show who would lose the role, and change nothing')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;mappings;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the mappings: which group or SCIM role grants which role')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Grant ROLE to everyone in a group, or with a SCIM roles value')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a mapping: its role goes from everyone who has it from no other source')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;mappings;help;list' {
            break
        }
        'scimctl;mappings;help;add' {
            break
        }
        'scimctl;mappings;help;remove' {
            break
        }
        'scimctl;mappings;help;help' {
            break
        }
        'scimctl;allowlist' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the entries of the IP allowlist')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add entries: CIDRs (10.0.0.0/8, 2001:db8::/32) or bare addresses')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove entries')
            [CompletionResult]::new('replace', 'replace', [CompletionResultType]::ParameterValue, 'Replace the whole allowlist with the entries of a file')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check whether an address is allowed: exit 0 if it is, 5 if not')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;allowlist;list' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'List at most N results [default: all]')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;allowlist;add' {
            [CompletionResult]::new('--note', '--note', [CompletionResultType]::ParameterName, 'A note kept with every entry added, e.g. "office VPN"')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Make the change even if it shuts out the address you connect from')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;allowlist;remove' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Make the change even if it shuts out the address you connect from')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;allowlist;replace' {
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The new list, one entry per line; `-` reads standard input')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Make the change even if it shuts out the address you connect from')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;allowlist;check' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;allowlist;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the entries of the IP allowlist')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add entries: CIDRs (10.0.0.0/8, 2001:db8::/32) or bare addresses')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove entries')
            [CompletionResult]::new('replace', 'replace', [CompletionResultType]::ParameterValue, 'Replace the whole allowlist with the entries of a file')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check whether an address is allowed: exit 0 if it is, 5 if not')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;allowlist;help;list' {
            break
        }
        'scimctl;allowlist;help;add' {
            break
        }
        'scimctl;allowlist;help;remove' {
            break
        }
        'scimctl;allowlist;help;replace' {
            break
        }
        'scimctl;allowlist;help;check' {
            break
        }
        'scimctl;allowlist;help;help' {
            break
        }
        'scimctl;users' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List users, ordered by userName')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one user: roles, groups, emails, deprovisioning state')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a user by hand (for organisations without an IdP yet, and for tests)')
            [CompletionResult]::new('grant', 'grant', [CompletionResultType]::ParameterValue, 'Give a user roles by hand')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Take away roles given by hand')
            [CompletionResult]::new('deprovision', 'deprovision', [CompletionResultType]::ParameterValue, 'Take away all of a user''s access, in one step')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check that a user has no access left; exit 0 only if so')
            [CompletionResult]::new('reactivate', 'reactivate', [CompletionResultType]::ParameterValue, 'Give a deprovisioned user access again')
            [CompletionResult]::new('why', 'why', [CompletionResultType]::ParameterValue, 'Explain a user''s access: each role with where it comes from, each group with how it came')
            [CompletionResult]::new('protect', 'protect', [CompletionResultType]::ParameterValue, 'Protect a user from the IdP: never deprovisioned, deleted or demoted by SCIM')
            [CompletionResult]::new('unprotect', 'unprotect', [CompletionResultType]::ParameterValue, 'Lift a user''s protection')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;users;list' {
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'Only users with this role (an unknown role exits 3)')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'Only members of this group: display name or id (an unknown group exits 3)')
            [CompletionResult]::new('--search', '--search', [CompletionResultType]::ParameterName, 'Only users whose userName, display name or an email contains TEXT (ignoring case)')
            [CompletionResult]::new('--filter', '--filter', [CompletionResultType]::ParameterName, 'Only users a SCIM filter matches, e.g. ''userName sw "a" and active eq true''')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'List at most N results [default: all]')
            [CompletionResult]::new('--page-size', '--page-size', [CompletionResultType]::ParameterName, 'Results fetched per request, 1 to 1000 [default: 100]')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--active', '--active', [CompletionResultType]::ParameterName, 'Only active users')
            [CompletionResult]::new('--inactive', '--inactive', [CompletionResultType]::ParameterName, 'Only inactive users (deprovisioned, or deactivated by the IdP)')
            [CompletionResult]::new('--pending', '--pending', [CompletionResultType]::ParameterName, 'Only users deactivated by the IdP whose access is not yet torn down')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;users;show' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;users;create' {
            [CompletionResult]::new('--email', '--email', [CompletionResultType]::ParameterName, 'An email address; repeat for several (the first is primary)')
            [CompletionResult]::new('--display-name', '--display-name', [CompletionResultType]::ParameterName, 'The name shown for people, e.g. "Alice Example"')
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'A role to give; repeat for several [default: the default role]')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'A group to join by display name; repeat for several. Each must exist unless --create-groups is given')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--create-groups', '--create-groups', [CompletionResultType]::ParameterName, 'Create the --group groups that do not exist yet')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;users;grant' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show what would change, and change nothing')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;users;revoke' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show what would change, and change nothing')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;users;deprovision' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, for the audit log and the lock, e.g. "left the company"')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show what would be removed, change nothing, and do not ask')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;users;verify' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;users;reactivate' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, for the audit log')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;users;why' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;users;protect' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;users;unprotect' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;users;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List users, ordered by userName')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one user: roles, groups, emails, deprovisioning state')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a user by hand (for organisations without an IdP yet, and for tests)')
            [CompletionResult]::new('grant', 'grant', [CompletionResultType]::ParameterValue, 'Give a user roles by hand')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Take away roles given by hand')
            [CompletionResult]::new('deprovision', 'deprovision', [CompletionResultType]::ParameterValue, 'Take away all of a user''s access, in one step')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check that a user has no access left; exit 0 only if so')
            [CompletionResult]::new('reactivate', 'reactivate', [CompletionResultType]::ParameterValue, 'Give a deprovisioned user access again')
            [CompletionResult]::new('why', 'why', [CompletionResultType]::ParameterValue, 'Explain a user''s access: each role with where it comes from, each group with how it came')
            [CompletionResult]::new('protect', 'protect', [CompletionResultType]::ParameterValue, 'Protect a user from the IdP: never deprovisioned, deleted or demoted by SCIM')
            [CompletionResult]::new('unprotect', 'unprotect', [CompletionResultType]::ParameterValue, 'Lift a user''s protection')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;users;help;list' {
            break
        }
        'scimctl;users;help;show' {
            break
        }
        'scimctl;users;help;create' {
            break
        }
        'scimctl;users;help;grant' {
            break
        }
        'scimctl;users;help;revoke' {
            break
        }
        'scimctl;users;help;deprovision' {
            break
        }
        'scimctl;users;help;verify' {
            break
        }
        'scimctl;users;help;reactivate' {
            break
        }
        'scimctl;users;help;why' {
            break
        }
        'scimctl;users;help;protect' {
            break
        }
        'scimctl;users;help;unprotect' {
            break
        }
        'scimctl;users;help;help' {
            break
        }
        'scimctl;groups' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List groups with their member counts, ordered by display name')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one group and its members')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;groups;list' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'List at most N results [default: all]')
            [CompletionResult]::new('--page-size', '--page-size', [CompletionResultType]::ParameterName, 'Results fetched per request, 1 to 1000 [default: 100]')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;groups;show' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;groups;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List groups with their member counts, ordered by display name')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one group and its members')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;groups;help;list' {
            break
        }
        'scimctl;groups;help;show' {
            break
        }
        'scimctl;groups;help;help' {
            break
        }
        'scimctl;locks' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List locks: whose credentials are blocked, since when, and why')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a lock: the user''s credentials are no longer blocked by it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;locks;list' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'List at most N results [default: all]')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;locks;remove' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;locks;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List locks: whose credentials are blocked, since when, and why')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a lock: the user''s credentials are no longer blocked by it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;locks;help;list' {
            break
        }
        'scimctl;locks;help;remove' {
            break
        }
        'scimctl;locks;help;help' {
            break
        }
        'scimctl;sessions' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('issue', 'issue', [CompletionResultType]::ParameterValue, 'Issue a session token for a user and print it, this once')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;sessions;issue' {
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'How long the session lasts, 1m to 30d [default: 8h]')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;sessions;help' {
            [CompletionResult]::new('issue', 'issue', [CompletionResultType]::ParameterValue, 'Issue a session token for a user and print it, this once')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;sessions;help;issue' {
            break
        }
        'scimctl;sessions;help;help' {
            break
        }
        'scimctl;introspect' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;audit' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List audit entries, newest first, or follow new ones as they happen')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;audit;list' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only entries from this time on')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Only entries before this time (same forms as --since)')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Only entries by this API key: its id or its name (`system` for the server itself)')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'Only this action (key.create), or a family of them (user.*)')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Only entries about this target: a user (id or userName, any case), a key id, a group''s name, a path')
            [CompletionResult]::new('--outcome', '--outcome', [CompletionResultType]::ParameterName, 'Only entries with this outcome')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'List at most N results [default: all]')
            [CompletionResult]::new('--page-size', '--page-size', [CompletionResultType]::ParameterName, 'Results fetched per request, 1 to 1000 [default: 100]')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing new entries as they are recorded, until Ctrl-C')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing new entries as they are recorded, until Ctrl-C')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;audit;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List audit entries, newest first, or follow new ones as they happen')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;audit;help;list' {
            break
        }
        'scimctl;audit;help;help' {
            break
        }
        'scimctl;scim' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'List SCIM requests the identity provider sent, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one SCIM request and its answer, whole, and the audit entries it wrote')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Explain one SCIM request: why it was answered as it was, and the fix')
            [CompletionResult]::new('replay', 'replay', [CompletionResultType]::ParameterValue, 'Show what one SCIM request would do if the identity provider sent it again now, changing nothing')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;scim;log' {
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Only requests about this user: id or userName (any case)')
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Only this status (409) or class of statuses (4xx, 5xx)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only requests from this time on: a duration ago (30m, 1h, 7d) or an RFC 3339 time')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'List at most N results [default: all]')
            [CompletionResult]::new('--page-size', '--page-size', [CompletionResultType]::ParameterName, 'Results fetched per request, 1 to 1000 [default: 100]')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--failed', '--failed', [CompletionResultType]::ParameterName, 'Only requests answered with an error (status 400 or more)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing new requests as they come, until Ctrl-C')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing new requests as they come, until Ctrl-C')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;scim;show' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;scim;explain' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;scim;replay' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Change nothing: show what the request would do (required; to apply it, retry it from the identity provider, which owns the change)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;scim;help' {
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'List SCIM requests the identity provider sent, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one SCIM request and its answer, whole, and the audit entries it wrote')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Explain one SCIM request: why it was answered as it was, and the fix')
            [CompletionResult]::new('replay', 'replay', [CompletionResultType]::ParameterValue, 'Show what one SCIM request would do if the identity provider sent it again now, changing nothing')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;scim;help;log' {
            break
        }
        'scimctl;scim;help;show' {
            break
        }
        'scimctl;scim;help;explain' {
            break
        }
        'scimctl;scim;help;replay' {
            break
        }
        'scimctl;scim;help;help' {
            break
        }
        'scimctl;drift' {
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'The IdP''s user export, a CSV file (`-` for standard input)')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;doctor' {
            [CompletionResult]::new('--idp', '--idp', [CompletionResultType]::ParameterName, 'The IdP whose connection test to replay [default: both]')
            [CompletionResult]::new('--ranges', '--ranges', [CompletionResultType]::ParameterName, 'The IdP''s egress ranges: one CIDR per line, `#` comments')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--token-stdin', '--token-stdin', [CompletionResultType]::ParameterName, 'Read the IdP''s SCIM key from standard input (its first line)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;completions' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'Filter the JSON output with a jq expression (implies -o json)')
            [CompletionResult]::new('--columns', '--columns', [CompletionResultType]::ParameterName, 'Table and CSV columns to show, in this order (e.g. id,name,status)')
            [CompletionResult]::new('--no-pager', '--no-pager', [CompletionResultType]::ParameterName, 'Never send table output through a pager')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;help' {
            [CompletionResult]::new('server', 'server', [CompletionResultType]::ParameterValue, 'Run the SCIM provisioning service')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Store an API key for this profile, after checking it with the server')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Forget this profile''s stored API key')
            [CompletionResult]::new('whoami', 'whoami', [CompletionResultType]::ParameterValue, 'Show the API key in use: its id, name, scopes and expiry')
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Show which profile, server and credential are in use, and whether they work')
            [CompletionResult]::new('profiles', 'profiles', [CompletionResultType]::ParameterValue, 'List the configured profiles')
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'Create, list, show and revoke API keys')
            [CompletionResult]::new('provisioning', 'provisioning', [CompletionResultType]::ParameterValue, 'Show or switch automatic provisioning of new users by the IdP')
            [CompletionResult]::new('deprovisioning', 'deprovisioning', [CompletionResultType]::ParameterValue, 'Show or switch automatic deprovisioning of deactivated users')
            [CompletionResult]::new('default-role', 'default-role', [CompletionResultType]::ParameterValue, 'Show or set the role every newly provisioned user gets')
            [CompletionResult]::new('roles', 'roles', [CompletionResultType]::ParameterValue, 'List, create and delete roles (named sets of permissions)')
            [CompletionResult]::new('mappings', 'mappings', [CompletionResultType]::ParameterValue, 'Grant roles for IdP groups and SCIM role values (identity mappings)')
            [CompletionResult]::new('allowlist', 'allowlist', [CompletionResultType]::ParameterValue, 'List and change the IP allowlist; check whether an address may connect')
            [CompletionResult]::new('users', 'users', [CompletionResultType]::ParameterValue, 'List, show and create users; deprovision, verify and reactivate them')
            [CompletionResult]::new('groups', 'groups', [CompletionResultType]::ParameterValue, 'List and show groups and their members')
            [CompletionResult]::new('locks', 'locks', [CompletionResultType]::ParameterValue, 'List and remove the locks that block deprovisioned users'' credentials')
            [CompletionResult]::new('sessions', 'sessions', [CompletionResultType]::ParameterValue, 'Issue session tokens for users')
            [CompletionResult]::new('introspect', 'introspect', [CompletionResultType]::ParameterValue, 'Check whether a session token or API key is live; exit 0 if so, 5 if not')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'Read the audit log: who changed what, when, from where')
            [CompletionResult]::new('scim', 'scim', [CompletionResultType]::ParameterValue, 'See what identity providers sent to /scim/v2 and what they were answered (the server''s request journal)')
            [CompletionResult]::new('drift', 'drift', [CompletionResultType]::ParameterValue, 'Compare an IdP''s user export with the directory; exit 5 on drift')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check an IdP connection before go-live; exit 5 if any check fails')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;help;server' {
            [CompletionResult]::new('recover', 'recover', [CompletionResultType]::ParameterValue, 'Break-glass repair on the server''s host, bypassing the API')
            break
        }
        'scimctl;help;server;recover' {
            break
        }
        'scimctl;help;login' {
            break
        }
        'scimctl;help;logout' {
            break
        }
        'scimctl;help;whoami' {
            break
        }
        'scimctl;help;auth' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the profile, server, credential and key in use, and whether they work')
            break
        }
        'scimctl;help;auth;status' {
            break
        }
        'scimctl;help;profiles' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every profile with its address and whether a key is stored')
            break
        }
        'scimctl;help;profiles;list' {
            break
        }
        'scimctl;help;keys' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an API key and print its token, this once')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List API keys')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one API key, by id or by name')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke an API key (by id or by name): every request with it fails from now on')
            break
        }
        'scimctl;help;keys;create' {
            break
        }
        'scimctl;help;keys;list' {
            break
        }
        'scimctl;help;keys;show' {
            break
        }
        'scimctl;help;keys;revoke' {
            break
        }
        'scimctl;help;provisioning' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show whether it is on, and what that means (and the circuit breaker)')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Turn it on, on every replica at once')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Turn it off, on every replica at once')
            [CompletionResult]::new('breaker', 'breaker', [CompletionResultType]::ParameterValue, 'The mass-deprovisioning circuit breaker')
            break
        }
        'scimctl;help;provisioning;status' {
            break
        }
        'scimctl;help;provisioning;enable' {
            break
        }
        'scimctl;help;provisioning;disable' {
            break
        }
        'scimctl;help;provisioning;breaker' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the breaker: state, window, threshold now, count in the window and the held users')
            [CompletionResult]::new('release', 'release', [CompletionResultType]::ParameterValue, 'Apply exactly the held deprovisionings, then close the breaker')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Discard the held deprovisionings and close the breaker')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Change when the breaker opens')
            break
        }
        'scimctl;help;provisioning;breaker;status' {
            break
        }
        'scimctl;help;provisioning;breaker;release' {
            break
        }
        'scimctl;help;provisioning;breaker;reset' {
            break
        }
        'scimctl;help;provisioning;breaker;set' {
            break
        }
        'scimctl;help;deprovisioning' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show whether it is on, and what that means')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Turn it on, on every replica at once')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Turn it off, on every replica at once')
            break
        }
        'scimctl;help;deprovisioning;status' {
            break
        }
        'scimctl;help;deprovisioning;enable' {
            break
        }
        'scimctl;help;deprovisioning;disable' {
            break
        }
        'scimctl;help;default-role' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show the role new users get')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Make ROLE the one every newly provisioned user gets')
            break
        }
        'scimctl;help;default-role;show' {
            break
        }
        'scimctl;help;default-role;set' {
            break
        }
        'scimctl;help;roles' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List roles with their permissions and how many users hold each')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a custom role')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a custom role')
            break
        }
        'scimctl;help;roles;list' {
            break
        }
        'scimctl;help;roles;create' {
            break
        }
        'scimctl;help;roles;delete' {
            break
        }
        'scimctl;help;mappings' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the mappings: which group or SCIM role grants which role')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Grant ROLE to everyone in a group, or with a SCIM roles value')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a mapping: its role goes from everyone who has it from no other source')
            break
        }
        'scimctl;help;mappings;list' {
            break
        }
        'scimctl;help;mappings;add' {
            break
        }
        'scimctl;help;mappings;remove' {
            break
        }
        'scimctl;help;allowlist' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the entries of the IP allowlist')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add entries: CIDRs (10.0.0.0/8, 2001:db8::/32) or bare addresses')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove entries')
            [CompletionResult]::new('replace', 'replace', [CompletionResultType]::ParameterValue, 'Replace the whole allowlist with the entries of a file')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check whether an address is allowed: exit 0 if it is, 5 if not')
            break
        }
        'scimctl;help;allowlist;list' {
            break
        }
        'scimctl;help;allowlist;add' {
            break
        }
        'scimctl;help;allowlist;remove' {
            break
        }
        'scimctl;help;allowlist;replace' {
            break
        }
        'scimctl;help;allowlist;check' {
            break
        }
        'scimctl;help;users' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List users, ordered by userName')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one user: roles, groups, emails, deprovisioning state')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a user by hand (for organisations without an IdP yet, and for tests)')
            [CompletionResult]::new('grant', 'grant', [CompletionResultType]::ParameterValue, 'Give a user roles by hand')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Take away roles given by hand')
            [CompletionResult]::new('deprovision', 'deprovision', [CompletionResultType]::ParameterValue, 'Take away all of a user''s access, in one step')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check that a user has no access left; exit 0 only if so')
            [CompletionResult]::new('reactivate', 'reactivate', [CompletionResultType]::ParameterValue, 'Give a deprovisioned user access again')
            [CompletionResult]::new('why', 'why', [CompletionResultType]::ParameterValue, 'Explain a user''s access: each role with where it comes from, each group with how it came')
            [CompletionResult]::new('protect', 'protect', [CompletionResultType]::ParameterValue, 'Protect a user from the IdP: never deprovisioned, deleted or demoted by SCIM')
            [CompletionResult]::new('unprotect', 'unprotect', [CompletionResultType]::ParameterValue, 'Lift a user''s protection')
            break
        }
        'scimctl;help;users;list' {
            break
        }
        'scimctl;help;users;show' {
            break
        }
        'scimctl;help;users;create' {
            break
        }
        'scimctl;help;users;grant' {
            break
        }
        'scimctl;help;users;revoke' {
            break
        }
        'scimctl;help;users;deprovision' {
            break
        }
        'scimctl;help;users;verify' {
            break
        }
        'scimctl;help;users;reactivate' {
            break
        }
        'scimctl;help;users;why' {
            break
        }
        'scimctl;help;users;protect' {
            break
        }
        'scimctl;help;users;unprotect' {
            break
        }
        'scimctl;help;groups' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List groups with their member counts, ordered by display name')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one group and its members')
            break
        }
        'scimctl;help;groups;list' {
            break
        }
        'scimctl;help;groups;show' {
            break
        }
        'scimctl;help;locks' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List locks: whose credentials are blocked, since when, and why')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a lock: the user''s credentials are no longer blocked by it')
            break
        }
        'scimctl;help;locks;list' {
            break
        }
        'scimctl;help;locks;remove' {
            break
        }
        'scimctl;help;sessions' {
            [CompletionResult]::new('issue', 'issue', [CompletionResultType]::ParameterValue, 'Issue a session token for a user and print it, this once')
            break
        }
        'scimctl;help;sessions;issue' {
            break
        }
        'scimctl;help;introspect' {
            break
        }
        'scimctl;help;audit' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List audit entries, newest first, or follow new ones as they happen')
            break
        }
        'scimctl;help;audit;list' {
            break
        }
        'scimctl;help;scim' {
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'List SCIM requests the identity provider sent, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one SCIM request and its answer, whole, and the audit entries it wrote')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Explain one SCIM request: why it was answered as it was, and the fix')
            [CompletionResult]::new('replay', 'replay', [CompletionResultType]::ParameterValue, 'Show what one SCIM request would do if the identity provider sent it again now, changing nothing')
            break
        }
        'scimctl;help;scim;log' {
            break
        }
        'scimctl;help;scim;show' {
            break
        }
        'scimctl;help;scim;explain' {
            break
        }
        'scimctl;help;scim;replay' {
            break
        }
        'scimctl;help;drift' {
            break
        }
        'scimctl;help;doctor' {
            break
        }
        'scimctl;help;completions' {
            break
        }
        'scimctl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
