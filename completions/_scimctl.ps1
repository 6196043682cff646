
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
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'Create, list, show and revoke API keys')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;server' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file (TOML: listen, database, body_limit); flags win over it')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on [default: 127.0.0.1:8080]')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'sqlite:///path/to/scimctl.db or postgres://user:password@host/database')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--dev', '--dev', [CompletionResultType]::ParameterName, 'Throwaway server: SQLite in a fresh temporary directory, deleted on exit')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;login' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--token-stdin', '--token-stdin', [CompletionResultType]::ParameterName, 'Read the API key from standard input (its first line)')
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
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'scimctl;keys' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Confirm destructive commands without asking')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr: only data, and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the settings in use and each request on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an API key and print its token, this once')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List API keys')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one API key')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke an API key: every request with it fails from now on')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;keys;create' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'What the key is for, e.g. "okta-prod" or "ci-deploy"')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'A permission of the key; repeat it or separate scopes with commas')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'When the key stops working [default: never]')
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
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
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Include revoked keys')
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
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one API key')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke an API key: every request with it fails from now on')
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
        'scimctl;completions' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Server address [default: the profile''s, else http://127.0.0.1:8080]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile from config.toml [default: default_profile, else "default"]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
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
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'Create, list, show and revoke API keys')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'scimctl;help;server' {
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
        'scimctl;help;keys' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an API key and print its token, this once')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List API keys')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one API key')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke an API key: every request with it fails from now on')
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
