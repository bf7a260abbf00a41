/* kuke completion bash|zsh: static scripts (verbs, kinds, flags), plus resource names from
 * kuke get KIND -o name. */
#include <stdio.h>

#include "cli/cli.h"

static const char bash_script[] =
        "# bash completion for kuke\n"
        "_kuke() {\n"
        "    local cur prev verb kind i\n"
        "    cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
        "    prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
        "    local verbs=\"init apply create get delete start stop kill restart logs status version "
        "completion digest\"\n"
        "    local kinds=\"realm space stack cell container image\"\n"
        "    local global=\"--run-path --state-dir --help\"\n"
        "    local write=\"--wait --wait=true --wait=false --timeout\"\n"
        "    local scope=\"--realm --space --stack\"\n"
        "    verb=\"\"\n"
        "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
        "        case \"${COMP_WORDS[i]}\" in\n"
        "            --run-path|--state-dir|--realm|--space|--stack|--cell|--timeout|-o|-l|-c|--container|"
        "--tail|--containerd-socket) ((i++)) ;;\n"
        "            -f) [[ $verb == logs ]] || ((i++)) ;;\n"
        "            -*) ;;\n"
        "            *) if [[ -z $verb ]]; then verb=${COMP_WORDS[i]}; elif [[ -z $kind ]]; then "
        "kind=${COMP_WORDS[i]}; fi ;;\n"
        "        esac\n"
        "    done\n"
        "    case \"$prev\" in\n"
        "        -f|--filename|--run-path|--state-dir|--containerd-socket)\n"
        "            [[ $verb == logs && $prev == -f ]] ||\n"
        "                { COMPREPLY=($(compgen -f -- \"$cur\")); return; } ;;\n"
        "        -o|--output)\n"
        "            local formats=\"table wide yaml json name\"\n"
        "            [[ $verb == status ]] && formats=\"table yaml json\"\n"
        "            COMPREPLY=($(compgen -W \"$formats\" -- \"$cur\")); return ;;\n"
        "        --realm) COMPREPLY=($(compgen -W \"$(kuke get realms -o name 2>/dev/null)\" -- \"$cur\")); "
        "return ;;\n"
        "        "
        "--timeout|--space|--stack|--cell|-l|--selector|--namespace|--subnet|--image|--container|--command|-"
        "-args|--env|-c|--tail) return ;;\n"
        "    esac\n"
        "    if [[ -z $verb ]]; then\n"
        "        COMPREPLY=($(compgen -W \"$verbs $global\" -- \"$cur\")); return\n"
        "    fi\n"
        "    case \"$verb\" in\n"
        "        init) COMPREPLY=($(compgen -W \"$write $global\" -- \"$cur\")) ;;\n"
        "        apply) COMPREPLY=($(compgen -W \"-f --filename $write $global\" -- \"$cur\")) ;;\n"
        "        create)\n"
        "            if [[ -z $kind ]]; then COMPREPLY=($(compgen -W \"realm space stack cell\" -- "
        "\"$cur\"));\n"
        "            else COMPREPLY=($(compgen -W \"$scope --namespace --subnet --image --container "
        "--command --args --env $write $global\" -- \"$cur\")); fi ;;\n"
        "        get|delete)\n"
        "            if [[ -z $kind ]]; then COMPREPLY=($(compgen -W \"$kinds\" -- \"$cur\"));\n"
        "            elif [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$scope --cell -o --output -l "
        "--selector --cascade -f $write $global\" -- \"$cur\"));\n"
        "            else COMPREPLY=($(compgen -W \"$(kuke get \"$kind\" -o name 2>/dev/null)\" -- "
        "\"$cur\")); fi ;;\n"
        "        start|stop|kill|restart)\n"
        "            if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$scope $write $global\" -- "
        "\"$cur\"));\n"
        "            else COMPREPLY=($(compgen -W \"$(kuke get cells -o name 2>/dev/null)\" -- \"$cur\")); "
        "fi ;;\n"
        "        logs)\n"
        "            if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$scope -c --container -f --follow "
        "--tail $global\" -- \"$cur\"));\n"
        "            else COMPREPLY=($(compgen -W \"$(kuke get cells -o name 2>/dev/null)\" -- \"$cur\")); "
        "fi ;;\n"
        "        status) COMPREPLY=($(compgen -W \"-o --output --containerd-socket $global\" -- \"$cur\")) "
        ";;\n"
        "        completion) COMPREPLY=($(compgen -W \"bash zsh\" -- \"$cur\")) ;;\n"
        "        digest) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
        "    esac\n"
        "}\n"
        "complete -F _kuke kuke\n";

static const char zsh_script[] =
        "#compdef kuke\n"
        "# zsh completion for kuke\n"
        "_kuke() {\n"
        "    local -a verbs kinds\n"
        "    verbs=(init apply create get delete start stop kill restart logs status version completion "
        "digest)\n"
        "    kinds=(realm space stack cell container image)\n"
        "    local -a common=(--run-path --state-dir --help --wait --timeout --realm --space --stack)\n"
        "    if (( CURRENT == 2 )); then\n"
        "        compadd -- $verbs --run-path --state-dir --help\n"
        "        return\n"
        "    fi\n"
        "    case $words[2] in\n"
        "        get|delete)\n"
        "            if (( CURRENT == 3 )); then compadd -- $kinds\n"
        "            elif [[ $PREFIX == -* ]]; then compadd -- $common --cell -o --output -l --selector "
        "--cascade -f\n"
        "            else compadd -- ${(f)\"$(kuke get $words[3] -o name 2>/dev/null)\"}; fi ;;\n"
        "        create)\n"
        "            if (( CURRENT == 3 )); then compadd -- realm space stack cell\n"
        "            else compadd -- $common --namespace --subnet --image --container --command --args "
        "--env; fi ;;\n"
        "        start|stop|kill|restart)\n"
        "            if [[ $PREFIX == -* ]]; then compadd -- $common\n"
        "            else compadd -- ${(f)\"$(kuke get cells -o name 2>/dev/null)\"}; fi ;;\n"
        "        apply) if [[ $PREFIX == -* ]]; then compadd -- $common -f --filename; else _files; fi ;;\n"
        "        logs)\n"
        "            if [[ $PREFIX == -* ]]; then compadd -- --run-path --state-dir --help --realm --space "
        "--stack -c --container -f --follow --tail\n"
        "            else compadd -- ${(f)\"$(kuke get cells -o name 2>/dev/null)\"}; fi ;;\n"
        "        status) compadd -- --run-path --state-dir --help -o --output --containerd-socket ;;\n"
        "        completion) compadd -- bash zsh ;;\n"
        "        digest) _files ;;\n"
        "        *) compadd -- $common ;;\n"
        "    esac\n"
        "}\n"
        "compdef _kuke kuke\n";

int verb_completion(Cli *cli, int argc, char **argv)
{
        static const struct option options[] = {CLI_OPTIONS_GLOBAL, {}};
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                if (option_common(cli, NULL, NULL, c, optarg) > 0)
                        continue;
                if (c == 'h') {
                        printf("Usage: kuke completion bash|zsh\n"
                               "\n"
                               "Prints a completion script: source <(kuke completion bash)\n");
                        return EXIT_OK;
                }
                return option_error("completion", c, argv);
        }
        if (argc - optind != 1)
                return log_usage("completion", "expected bash or zsh");
        if (streq(argv[optind], "bash"))
                fputs(bash_script, stdout);
        else if (streq(argv[optind], "zsh"))
                fputs(zsh_script, stdout);
        else
                return log_usage("completion", "expected bash or zsh, not \"%s\"", argv[optind]);
        return EXIT_OK;
}
