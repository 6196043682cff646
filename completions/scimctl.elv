
use builtin;
use str;

set edit:completion:arg-completer[scimctl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'scimctl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'scimctl'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand server 'Run the SCIM provisioning service'
            cand login 'Store an API key for this profile, after checking it with the server'
            cand logout 'Forget this profile''s stored API key'
            cand whoami 'Show the API key in use: its id, name, scopes and expiry'
            cand keys 'Create, list, show and revoke API keys'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;server'= {
            cand --config 'Settings file (TOML: listen, database, body_limit); flags win over it'
            cand --listen 'Address to listen on [default: 127.0.0.1:8080]'
            cand --database 'sqlite:///path/to/scimctl.db or postgres://user:password@host/database'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --dev 'Throwaway server: SQLite in a fresh temporary directory, deleted on exit'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;login'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --token-stdin 'Read the API key from standard input (its first line)'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;logout'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;whoami'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;keys'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand create 'Create an API key and print its token, this once'
            cand list 'List API keys'
            cand show 'Show one API key'
            cand revoke 'Revoke an API key: every request with it fails from now on'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;keys;create'= {
            cand --name 'What the key is for, e.g. "okta-prod" or "ci-deploy"'
            cand --scope 'A permission of the key; repeat it or separate scopes with commas'
            cand --expires 'When the key stops working [default: never]'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;keys;list'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --all 'Include revoked keys'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;keys;show'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;keys;revoke'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;keys;help'= {
            cand create 'Create an API key and print its token, this once'
            cand list 'List API keys'
            cand show 'Show one API key'
            cand revoke 'Revoke an API key: every request with it fails from now on'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;keys;help;create'= {
        }
        &'scimctl;keys;help;list'= {
        }
        &'scimctl;keys;help;show'= {
        }
        &'scimctl;keys;help;revoke'= {
        }
        &'scimctl;keys;help;help'= {
        }
        &'scimctl;completions'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;help'= {
            cand server 'Run the SCIM provisioning service'
            cand login 'Store an API key for this profile, after checking it with the server'
            cand logout 'Forget this profile''s stored API key'
            cand whoami 'Show the API key in use: its id, name, scopes and expiry'
            cand keys 'Create, list, show and revoke API keys'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;help;server'= {
        }
        &'scimctl;help;login'= {
        }
        &'scimctl;help;logout'= {
        }
        &'scimctl;help;whoami'= {
        }
        &'scimctl;help;keys'= {
            cand create 'Create an API key and print its token, this once'
            cand list 'List API keys'
            cand show 'Show one API key'
            cand revoke 'Revoke an API key: every request with it fails from now on'
        }
        &'scimctl;help;keys;create'= {
        }
        &'scimctl;help;keys;list'= {
        }
        &'scimctl;help;keys;show'= {
        }
        &'scimctl;help;keys;revoke'= {
        }
        &'scimctl;help;completions'= {
        }
        &'scimctl;help;help'= {
        }
    ]
    $completions[$command]
}
