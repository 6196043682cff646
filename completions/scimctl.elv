
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
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
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
            cand auth 'Show which profile, server and credential are in use, and whether they work'
            cand profiles 'List the configured profiles'
            cand keys 'Create, list, show and revoke API keys'
            cand provisioning 'Show or switch automatic provisioning of new users by the IdP'
            cand deprovisioning 'Show or switch automatic deprovisioning of deactivated users'
            cand default-role 'Show or set the role every newly provisioned user gets'
            cand roles 'List, create and delete roles (named sets of permissions)'
            cand mappings 'Grant roles for IdP groups and SCIM role values (identity mappings)'
            cand allowlist 'List and change the IP allowlist; check whether an address may connect'
            cand users 'List, show and create users; deprovision, verify and reactivate them'
            cand groups 'List and show groups and their members'
            cand locks 'List and remove the locks that block deprovisioned users'' credentials'
            cand sessions 'Issue session tokens for users'
            cand introspect 'Check whether a session token or API key is live; exit 0 if so, 5 if not'
            cand audit 'Read the audit log: who changed what, when, from where'
            cand scim 'See what identity providers sent to /scim/v2 and what they were answered (the server''s request journal)'
            cand drift 'Compare an IdP''s user export with the directory; exit 5 on drift'
            cand doctor 'Check an IdP connection before go-live; exit 5 if any check fails'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;server'= {
            cand --config 'Settings file (TOML: listen, database, body_limit, trusted_proxies, [limits]); flags win over it'
            cand --listen 'Address to listen on [default: 127.0.0.1:8080]'
            cand --database 'sqlite:///path/to/scimctl.db or postgres://user:password@host/database'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --dev 'Throwaway server: SQLite in a fresh temporary directory, deleted on exit'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand recover 'Break-glass repair on the server''s host, bypassing the API'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;server;recover'= {
            cand --database 'The server''s database: sqlite:///path/to/scimctl.db or postgres://…'
            cand --config 'The server''s settings file, to take `database` from'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --new-admin-key 'Mint a new API key with every scope; its token is printed once'
            cand --clear-allowlist 'Empty the IP allowlist, so every address may connect again'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;server;help'= {
            cand recover 'Break-glass repair on the server''s host, bypassing the API'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;server;help;recover'= {
        }
        &'scimctl;server;help;help'= {
        }
        &'scimctl;login'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --token-stdin 'Read the API key from standard input (its first line)'
            cand --no-pager 'Never send table output through a pager'
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
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
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
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;auth'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand status 'Show the profile, server, credential and key in use, and whether they work'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;auth;status'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;auth;help'= {
            cand status 'Show the profile, server, credential and key in use, and whether they work'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;auth;help;status'= {
        }
        &'scimctl;auth;help;help'= {
        }
        &'scimctl;profiles'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand list 'List every profile with its address and whether a key is stored'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;profiles;list'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;profiles;help'= {
            cand list 'List every profile with its address and whether a key is stored'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;profiles;help;list'= {
        }
        &'scimctl;profiles;help;help'= {
        }
        &'scimctl;keys'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand create 'Create an API key and print its token, this once'
            cand list 'List API keys'
            cand show 'Show one API key, by id or by name'
            cand revoke 'Revoke an API key (by id or by name): every request with it fails from now on'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;keys;create'= {
            cand --name 'What the key is for, e.g. "okta-prod" or "ci-deploy"'
            cand --scope 'A permission of the key; repeat it or separate scopes with commas'
            cand --expires 'When the key stops working [default: never]'
            cand --owner 'Make it a personal key of this user (userName or id)'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;keys;list'= {
            cand --limit 'List at most N results [default: all]'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --all 'Include revoked keys'
            cand --no-pager 'Never send table output through a pager'
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
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
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
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --force 'Revoke even the key you are using, or the last live key that can manage keys (recovery then needs `scimctl server recover` on the host)'
            cand --no-pager 'Never send table output through a pager'
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
            cand show 'Show one API key, by id or by name'
            cand revoke 'Revoke an API key (by id or by name): every request with it fails from now on'
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
        &'scimctl;provisioning'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand status 'Show whether it is on, and what that means (and the circuit breaker)'
            cand enable 'Turn it on, on every replica at once'
            cand disable 'Turn it off, on every replica at once'
            cand breaker 'The mass-deprovisioning circuit breaker'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;provisioning;status'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;provisioning;enable'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;provisioning;disable'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;provisioning;breaker'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand status 'Show the breaker: state, window, threshold now, count in the window and the held users'
            cand release 'Apply exactly the held deprovisionings, then close the breaker'
            cand reset 'Discard the held deprovisionings and close the breaker'
            cand set 'Change when the breaker opens'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;provisioning;breaker;status'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;provisioning;breaker;release'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --dry-run 'List the held users release would apply; change nothing, do not ask'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;provisioning;breaker;reset'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;provisioning;breaker;set'= {
            cand --threshold 'Users per window that may be deprovisioned, at least 1 (default 25)'
            cand --percent 'Share of active users per window, 1 to 100 (default 10)'
            cand --window 'The sliding window, from 1m to 1d, e.g. 10m or 1h (default 10m)'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;provisioning;breaker;help'= {
            cand status 'Show the breaker: state, window, threshold now, count in the window and the held users'
            cand release 'Apply exactly the held deprovisionings, then close the breaker'
            cand reset 'Discard the held deprovisionings and close the breaker'
            cand set 'Change when the breaker opens'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;provisioning;breaker;help;status'= {
        }
        &'scimctl;provisioning;breaker;help;release'= {
        }
        &'scimctl;provisioning;breaker;help;reset'= {
        }
        &'scimctl;provisioning;breaker;help;set'= {
        }
        &'scimctl;provisioning;breaker;help;help'= {
        }
        &'scimctl;provisioning;help'= {
            cand status 'Show whether it is on, and what that means (and the circuit breaker)'
            cand enable 'Turn it on, on every replica at once'
            cand disable 'Turn it off, on every replica at once'
            cand breaker 'The mass-deprovisioning circuit breaker'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;provisioning;help;status'= {
        }
        &'scimctl;provisioning;help;enable'= {
        }
        &'scimctl;provisioning;help;disable'= {
        }
        &'scimctl;provisioning;help;breaker'= {
            cand status 'Show the breaker: state, window, threshold now, count in the window and the held users'
            cand release 'Apply exactly the held deprovisionings, then close the breaker'
            cand reset 'Discard the held deprovisionings and close the breaker'
            cand set 'Change when the breaker opens'
        }
        &'scimctl;provisioning;help;breaker;status'= {
        }
        &'scimctl;provisioning;help;breaker;release'= {
        }
        &'scimctl;provisioning;help;breaker;reset'= {
        }
        &'scimctl;provisioning;help;breaker;set'= {
        }
        &'scimctl;provisioning;help;help'= {
        }
        &'scimctl;deprovisioning'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand status 'Show whether it is on, and what that means'
            cand enable 'Turn it on, on every replica at once'
            cand disable 'Turn it off, on every replica at once'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;deprovisioning;status'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;deprovisioning;enable'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;deprovisioning;disable'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;deprovisioning;help'= {
            cand status 'Show whether it is on, and what that means'
            cand enable 'Turn it on, on every replica at once'
            cand disable 'Turn it off, on every replica at once'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;deprovisioning;help;status'= {
        }
        &'scimctl;deprovisioning;help;enable'= {
        }
        &'scimctl;deprovisioning;help;disable'= {
        }
        &'scimctl;deprovisioning;help;help'= {
        }
        &'scimctl;default-role'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand show 'Show the role new users get'
            cand set 'Make ROLE the one every newly provisioned user gets'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;default-role;show'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;default-role;set'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;default-role;help'= {
            cand show 'Show the role new users get'
            cand set 'Make ROLE the one every newly provisioned user gets'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;default-role;help;show'= {
        }
        &'scimctl;default-role;help;set'= {
        }
        &'scimctl;default-role;help;help'= {
        }
        &'scimctl;roles'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand list 'List roles with their permissions and how many users hold each'
            cand create 'Create a custom role'
            cand delete 'Delete a custom role'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;roles;list'= {
            cand --limit 'List at most N results [default: all]'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;roles;create'= {
            cand --permission 'A permission of the role; repeat it or separate permissions with commas'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;roles;delete'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;roles;help'= {
            cand list 'List roles with their permissions and how many users hold each'
            cand create 'Create a custom role'
            cand delete 'Delete a custom role'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;roles;help;list'= {
        }
        &'scimctl;roles;help;create'= {
        }
        &'scimctl;roles;help;delete'= {
        }
        &'scimctl;roles;help;help'= {
        }
        &'scimctl;mappings'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand list 'List the mappings: which group or SCIM role grants which role'
            cand add 'Grant ROLE to everyone in a group, or with a SCIM roles value'
            cand remove 'Remove a mapping: its role goes from everyone who has it from no other source'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;mappings;list'= {
            cand --limit 'List at most N results [default: all]'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;mappings;add'= {
            cand --group 'The group: its display name (any case) or id'
            cand --scim-role 'A value of the SCIM roles attribute (an Entra ID app role''s value), matched ignoring case'
            cand --role 'The role to grant'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --dry-run 'Show who would gain the role, and change nothing'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;mappings;remove'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --dry-run 'Show who would lose the role, and change nothing'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;mappings;help'= {
            cand list 'List the mappings: which group or SCIM role grants which role'
            cand add 'Grant ROLE to everyone in a group, or with a SCIM roles value'
            cand remove 'Remove a mapping: its role goes from everyone who has it from no other source'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;mappings;help;list'= {
        }
        &'scimctl;mappings;help;add'= {
        }
        &'scimctl;mappings;help;remove'= {
        }
        &'scimctl;mappings;help;help'= {
        }
        &'scimctl;allowlist'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand list 'List the entries of the IP allowlist'
            cand add 'Add entries: CIDRs (10.0.0.0/8, 2001:db8::/32) or bare addresses'
            cand remove 'Remove entries'
            cand replace 'Replace the whole allowlist with the entries of a file'
            cand check 'Check whether an address is allowed: exit 0 if it is, 5 if not'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;allowlist;list'= {
            cand --limit 'List at most N results [default: all]'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;allowlist;add'= {
            cand --note 'A note kept with every entry added, e.g. "office VPN"'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --force 'Make the change even if it shuts out the address you connect from'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;allowlist;remove'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --force 'Make the change even if it shuts out the address you connect from'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;allowlist;replace'= {
            cand --file 'The new list, one entry per line; `-` reads standard input'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --force 'Make the change even if it shuts out the address you connect from'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;allowlist;check'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;allowlist;help'= {
            cand list 'List the entries of the IP allowlist'
            cand add 'Add entries: CIDRs (10.0.0.0/8, 2001:db8::/32) or bare addresses'
            cand remove 'Remove entries'
            cand replace 'Replace the whole allowlist with the entries of a file'
            cand check 'Check whether an address is allowed: exit 0 if it is, 5 if not'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;allowlist;help;list'= {
        }
        &'scimctl;allowlist;help;add'= {
        }
        &'scimctl;allowlist;help;remove'= {
        }
        &'scimctl;allowlist;help;replace'= {
        }
        &'scimctl;allowlist;help;check'= {
        }
        &'scimctl;allowlist;help;help'= {
        }
        &'scimctl;users'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand list 'List users, ordered by userName'
            cand show 'Show one user: roles, groups, emails, deprovisioning state'
            cand create 'Create a user by hand (for organisations without an IdP yet, and for tests)'
            cand grant 'Give a user roles by hand'
            cand revoke 'Take away roles given by hand'
            cand deprovision 'Take away all of a user''s access, in one step'
            cand verify 'Check that a user has no access left; exit 0 only if so'
            cand reactivate 'Give a deprovisioned user access again'
            cand why 'Explain a user''s access: each role with where it comes from, each group with how it came'
            cand protect 'Protect a user from the IdP: never deprovisioned, deleted or demoted by SCIM'
            cand unprotect 'Lift a user''s protection'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;users;list'= {
            cand --role 'Only users with this role (an unknown role exits 3)'
            cand --group 'Only members of this group: display name or id (an unknown group exits 3)'
            cand --search 'Only users whose userName, display name or an email contains TEXT (ignoring case)'
            cand --filter 'Only users a SCIM filter matches, e.g. ''userName sw "a" and active eq true'''
            cand --limit 'List at most N results [default: all]'
            cand --page-size 'Results fetched per request, 1 to 1000 [default: 100]'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --active 'Only active users'
            cand --inactive 'Only inactive users (deprovisioned, or deactivated by the IdP)'
            cand --pending 'Only users deactivated by the IdP whose access is not yet torn down'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;users;show'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;users;create'= {
            cand --email 'An email address; repeat for several (the first is primary)'
            cand --display-name 'The name shown for people, e.g. "Alice Example"'
            cand --role 'A role to give; repeat for several [default: the default role]'
            cand --group 'A group to join by display name; repeat for several. Each must exist unless --create-groups is given'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --create-groups 'Create the --group groups that do not exist yet'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;users;grant'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --dry-run 'Show what would change, and change nothing'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;users;revoke'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --dry-run 'Show what would change, and change nothing'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;users;deprovision'= {
            cand --reason 'Why, for the audit log and the lock, e.g. "left the company"'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --dry-run 'Show what would be removed, change nothing, and do not ask'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;users;verify'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;users;reactivate'= {
            cand --reason 'Why, for the audit log'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;users;why'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;users;protect'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;users;unprotect'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;users;help'= {
            cand list 'List users, ordered by userName'
            cand show 'Show one user: roles, groups, emails, deprovisioning state'
            cand create 'Create a user by hand (for organisations without an IdP yet, and for tests)'
            cand grant 'Give a user roles by hand'
            cand revoke 'Take away roles given by hand'
            cand deprovision 'Take away all of a user''s access, in one step'
            cand verify 'Check that a user has no access left; exit 0 only if so'
            cand reactivate 'Give a deprovisioned user access again'
            cand why 'Explain a user''s access: each role with where it comes from, each group with how it came'
            cand protect 'Protect a user from the IdP: never deprovisioned, deleted or demoted by SCIM'
            cand unprotect 'Lift a user''s protection'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;users;help;list'= {
        }
        &'scimctl;users;help;show'= {
        }
        &'scimctl;users;help;create'= {
        }
        &'scimctl;users;help;grant'= {
        }
        &'scimctl;users;help;revoke'= {
        }
        &'scimctl;users;help;deprovision'= {
        }
        &'scimctl;users;help;verify'= {
        }
        &'scimctl;users;help;reactivate'= {
        }
        &'scimctl;users;help;why'= {
        }
        &'scimctl;users;help;protect'= {
        }
        &'scimctl;users;help;unprotect'= {
        }
        &'scimctl;users;help;help'= {
        }
        &'scimctl;groups'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand list 'List groups with their member counts, ordered by display name'
            cand show 'Show one group and its members'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;groups;list'= {
            cand --limit 'List at most N results [default: all]'
            cand --page-size 'Results fetched per request, 1 to 1000 [default: 100]'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;groups;show'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;groups;help'= {
            cand list 'List groups with their member counts, ordered by display name'
            cand show 'Show one group and its members'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;groups;help;list'= {
        }
        &'scimctl;groups;help;show'= {
        }
        &'scimctl;groups;help;help'= {
        }
        &'scimctl;locks'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand list 'List locks: whose credentials are blocked, since when, and why'
            cand remove 'Remove a lock: the user''s credentials are no longer blocked by it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;locks;list'= {
            cand --limit 'List at most N results [default: all]'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;locks;remove'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;locks;help'= {
            cand list 'List locks: whose credentials are blocked, since when, and why'
            cand remove 'Remove a lock: the user''s credentials are no longer blocked by it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;locks;help;list'= {
        }
        &'scimctl;locks;help;remove'= {
        }
        &'scimctl;locks;help;help'= {
        }
        &'scimctl;sessions'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand issue 'Issue a session token for a user and print it, this once'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;sessions;issue'= {
            cand --ttl 'How long the session lasts, 1m to 30d [default: 8h]'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;sessions;help'= {
            cand issue 'Issue a session token for a user and print it, this once'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;sessions;help;issue'= {
        }
        &'scimctl;sessions;help;help'= {
        }
        &'scimctl;introspect'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;audit'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand list 'List audit entries, newest first, or follow new ones as they happen'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;audit;list'= {
            cand --since 'Only entries from this time on'
            cand --until 'Only entries before this time (same forms as --since)'
            cand --actor 'Only entries by this API key: its id or its name (`system` for the server itself)'
            cand --action 'Only this action (key.create), or a family of them (user.*)'
            cand --target 'Only entries about this target: a user (id or userName, any case), a key id, a group''s name, a path'
            cand --outcome 'Only entries with this outcome'
            cand --limit 'List at most N results [default: all]'
            cand --page-size 'Results fetched per request, 1 to 1000 [default: 100]'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand -f 'Keep printing new entries as they are recorded, until Ctrl-C'
            cand --follow 'Keep printing new entries as they are recorded, until Ctrl-C'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;audit;help'= {
            cand list 'List audit entries, newest first, or follow new ones as they happen'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;audit;help;list'= {
        }
        &'scimctl;audit;help;help'= {
        }
        &'scimctl;scim'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand log 'List SCIM requests the identity provider sent, newest first'
            cand show 'Show one SCIM request and its answer, whole, and the audit entries it wrote'
            cand explain 'Explain one SCIM request: why it was answered as it was, and the fix'
            cand replay 'Show what one SCIM request would do if the identity provider sent it again now, changing nothing'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;scim;log'= {
            cand --user 'Only requests about this user: id or userName (any case)'
            cand --status 'Only this status (409) or class of statuses (4xx, 5xx)'
            cand --since 'Only requests from this time on: a duration ago (30m, 1h, 7d) or an RFC 3339 time'
            cand --limit 'List at most N results [default: all]'
            cand --page-size 'Results fetched per request, 1 to 1000 [default: 100]'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --failed 'Only requests answered with an error (status 400 or more)'
            cand -f 'Keep printing new requests as they come, until Ctrl-C'
            cand --follow 'Keep printing new requests as they come, until Ctrl-C'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;scim;show'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;scim;explain'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;scim;replay'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --dry-run 'Change nothing: show what the request would do (required; to apply it, retry it from the identity provider, which owns the change)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;scim;help'= {
            cand log 'List SCIM requests the identity provider sent, newest first'
            cand show 'Show one SCIM request and its answer, whole, and the audit entries it wrote'
            cand explain 'Explain one SCIM request: why it was answered as it was, and the fix'
            cand replay 'Show what one SCIM request would do if the identity provider sent it again now, changing nothing'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;scim;help;log'= {
        }
        &'scimctl;scim;help;show'= {
        }
        &'scimctl;scim;help;explain'= {
        }
        &'scimctl;scim;help;replay'= {
        }
        &'scimctl;scim;help;help'= {
        }
        &'scimctl;drift'= {
            cand --from 'The IdP''s user export, a CSV file (`-` for standard input)'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;doctor'= {
            cand --idp 'The IdP whose connection test to replay [default: both]'
            cand --ranges 'The IdP''s egress ranges: one CIDR per line, `#` comments'
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --token-stdin 'Read the IdP''s SCIM key from standard input (its first line)'
            cand --no-pager 'Never send table output through a pager'
            cand --yes 'Confirm destructive commands without asking'
            cand -q 'Print no diagnostics on stderr: only data, and errors'
            cand --quiet 'Print no diagnostics on stderr: only data, and errors'
            cand -v 'Print the settings in use and each request on stderr'
            cand --verbose 'Print the settings in use and each request on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'scimctl;completions'= {
            cand --addr 'Server address [default: the profile''s, else http://127.0.0.1:8080]'
            cand --profile 'Profile from config.toml [default: default_profile, else "default"]'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --jq 'Filter the JSON output with a jq expression (implies -o json)'
            cand --columns 'Table and CSV columns to show, in this order (e.g. id,name,status)'
            cand --no-pager 'Never send table output through a pager'
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
            cand auth 'Show which profile, server and credential are in use, and whether they work'
            cand profiles 'List the configured profiles'
            cand keys 'Create, list, show and revoke API keys'
            cand provisioning 'Show or switch automatic provisioning of new users by the IdP'
            cand deprovisioning 'Show or switch automatic deprovisioning of deactivated users'
            cand default-role 'Show or set the role every newly provisioned user gets'
            cand roles 'List, create and delete roles (named sets of permissions)'
            cand mappings 'Grant roles for IdP groups and SCIM role values (identity mappings)'
            cand allowlist 'List and change the IP allowlist; check whether an address may connect'
            cand users 'List, show and create users; deprovision, verify and reactivate them'
            cand groups 'List and show groups and their members'
            cand locks 'List and remove the locks that block deprovisioned users'' credentials'
            cand sessions 'Issue session tokens for users'
            cand introspect 'Check whether a session token or API key is live; exit 0 if so, 5 if not'
            cand audit 'Read the audit log: who changed what, when, from where'
            cand scim 'See what identity providers sent to /scim/v2 and what they were answered (the server''s request journal)'
            cand drift 'Compare an IdP''s user export with the directory; exit 5 on drift'
            cand doctor 'Check an IdP connection before go-live; exit 5 if any check fails'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'scimctl;help;server'= {
            cand recover 'Break-glass repair on the server''s host, bypassing the API'
        }
        &'scimctl;help;server;recover'= {
        }
        &'scimctl;help;login'= {
        }
        &'scimctl;help;logout'= {
        }
        &'scimctl;help;whoami'= {
        }
        &'scimctl;help;auth'= {
            cand status 'Show the profile, server, credential and key in use, and whether they work'
        }
        &'scimctl;help;auth;status'= {
        }
        &'scimctl;help;profiles'= {
            cand list 'List every profile with its address and whether a key is stored'
        }
        &'scimctl;help;profiles;list'= {
        }
        &'scimctl;help;keys'= {
            cand create 'Create an API key and print its token, this once'
            cand list 'List API keys'
            cand show 'Show one API key, by id or by name'
            cand revoke 'Revoke an API key (by id or by name): every request with it fails from now on'
        }
        &'scimctl;help;keys;create'= {
        }
        &'scimctl;help;keys;list'= {
        }
        &'scimctl;help;keys;show'= {
        }
        &'scimctl;help;keys;revoke'= {
        }
        &'scimctl;help;provisioning'= {
            cand status 'Show whether it is on, and what that means (and the circuit breaker)'
            cand enable 'Turn it on, on every replica at once'
            cand disable 'Turn it off, on every replica at once'
            cand breaker 'The mass-deprovisioning circuit breaker'
        }
        &'scimctl;help;provisioning;status'= {
        }
        &'scimctl;help;provisioning;enable'= {
        }
        &'scimctl;help;provisioning;disable'= {
        }
        &'scimctl;help;provisioning;breaker'= {
            cand status 'Show the breaker: state, window, threshold now, count in the window and the held users'
            cand release 'Apply exactly the held deprovisionings, then close the breaker'
            cand reset 'Discard the held deprovisionings and close the breaker'
            cand set 'Change when the breaker opens'
        }
        &'scimctl;help;provisioning;breaker;status'= {
        }
        &'scimctl;help;provisioning;breaker;release'= {
        }
        &'scimctl;help;provisioning;breaker;reset'= {
        }
        &'scimctl;help;provisioning;breaker;set'= {
        }
        &'scimctl;help;deprovisioning'= {
            cand status 'Show whether it is on, and what that means'
            cand enable 'Turn it on, on every replica at once'
            cand disable 'Turn it off, on every replica at once'
        }
        &'scimctl;help;deprovisioning;status'= {
        }
        &'scimctl;help;deprovisioning;enable'= {
        }
        &'scimctl;help;deprovisioning;disable'= {
        }
        &'scimctl;help;default-role'= {
            cand show 'Show the role new users get'
            cand set 'Make ROLE the one every newly provisioned user gets'
        }
        &'scimctl;help;default-role;show'= {
        }
        &'scimctl;help;default-role;set'= {
        }
        &'scimctl;help;roles'= {
            cand list 'List roles with their permissions and how many users hold each'
            cand create 'Create a custom role'
            cand delete 'Delete a custom role'
        }
        &'scimctl;help;roles;list'= {
        }
        &'scimctl;help;roles;create'= {
        }
        &'scimctl;help;roles;delete'= {
        }
        &'scimctl;help;mappings'= {
            cand list 'List the mappings: which group or SCIM role grants which role'
            cand add 'Grant ROLE to everyone in a group, or with a SCIM roles value'
            cand remove 'Remove a mapping: its role goes from everyone who has it from no other source'
        }
        &'scimctl;help;mappings;list'= {
        }
        &'scimctl;help;mappings;add'= {
        }
        &'scimctl;help;mappings;remove'= {
        }
        &'scimctl;help;allowlist'= {
            cand list 'List the entries of the IP allowlist'
            cand add 'Add entries: CIDRs (10.0.0.0/8, 2001:db8::/32) or bare addresses'
            cand remove 'Remove entries'
            cand replace 'Replace the whole allowlist with the entries of a file'
            cand check 'Check whether an address is allowed: exit 0 if it is, 5 if not'
        }
        &'scimctl;help;allowlist;list'= {
        }
        &'scimctl;help;allowlist;add'= {
        }
        &'scimctl;help;allowlist;remove'= {
        }
        &'scimctl;help;allowlist;replace'= {
        }
        &'scimctl;help;allowlist;check'= {
        }
        &'scimctl;help;users'= {
            cand list 'List users, ordered by userName'
            cand show 'Show one user: roles, groups, emails, deprovisioning state'
            cand create 'Create a user by hand (for organisations without an IdP yet, and for tests)'
            cand grant 'Give a user roles by hand'
            cand revoke 'Take away roles given by hand'
            cand deprovision 'Take away all of a user''s access, in one step'
            cand verify 'Check that a user has no access left; exit 0 only if so'
            cand reactivate 'Give a deprovisioned user access again'
            cand why 'Explain a user''s access: each role with where it comes from, each group with how it came'
            cand protect 'Protect a user from the IdP: never deprovisioned, deleted or demoted by SCIM'
            cand unprotect 'Lift a user''s protection'
        }
        &'scimctl;help;users;list'= {
        }
        &'scimctl;help;users;show'= {
        }
        &'scimctl;help;users;create'= {
        }
        &'scimctl;help;users;grant'= {
        }
        &'scimctl;help;users;revoke'= {
        }
        &'scimctl;help;users;deprovision'= {
        }
        &'scimctl;help;users;verify'= {
        }
        &'scimctl;help;users;reactivate'= {
        }
        &'scimctl;help;users;why'= {
        }
        &'scimctl;help;users;protect'= {
        }
        &'scimctl;help;users;unprotect'= {
        }
        &'scimctl;help;groups'= {
            cand list 'List groups with their member counts, ordered by display name'
            cand show 'Show one group and its members'
        }
        &'scimctl;help;groups;list'= {
        }
        &'scimctl;help;groups;show'= {
        }
        &'scimctl;help;locks'= {
            cand list 'List locks: whose credentials are blocked, since when, and why'
            cand remove 'Remove a lock: the user''s credentials are no longer blocked by it'
        }
        &'scimctl;help;locks;list'= {
        }
        &'scimctl;help;locks;remove'= {
        }
        &'scimctl;help;sessions'= {
            cand issue 'Issue a session token for a user and print it, this once'
        }
        &'scimctl;help;sessions;issue'= {
        }
        &'scimctl;help;introspect'= {
        }
        &'scimctl;help;audit'= {
            cand list 'List audit entries, newest first, or follow new ones as they happen'
        }
        &'scimctl;help;audit;list'= {
        }
        &'scimctl;help;scim'= {
            cand log 'List SCIM requests the identity provider sent, newest first'
            cand show 'Show one SCIM request and its answer, whole, and the audit entries it wrote'
            cand explain 'Explain one SCIM request: why it was answered as it was, and the fix'
            cand replay 'Show what one SCIM request would do if the identity provider sent it again now, changing nothing'
        }
        &'scimctl;help;scim;log'= {
        }
        &'scimctl;help;scim;show'= {
        }
        &'scimctl;help;scim;explain'= {
        }
        &'scimctl;help;scim;replay'= {
        }
        &'scimctl;help;drift'= {
        }
        &'scimctl;help;doctor'= {
        }
        &'scimctl;help;completions'= {
        }
        &'scimctl;help;help'= {
        }
    ]
    $completions[$command]
}
