# SPDX-License-Identifier: MIT
# bash completion for memprof(1): commands, each command's options, their
# values (sample types, allocators, signals, --fail-on classes, process
# ids), and file names by kind: profiles (*.pb.gz), raw snapshots (*.snap),
# leak reports (*.json, *.sarif, *.xml), charts (*.svg, *.html).
#
# Installed as <datadir>/bash-completion/completions/memprof, where
# bash-completion loads it on the first `memprof <TAB>`; without
# bash-completion, `source` this file.  It needs nothing from
# bash-completion, and uses its _command_offset, when present, to complete
# the arguments of the program after `memprof run PROGRAM`.
#
# The option lists below follow each command's --help;
# tests/integration/run/check-completion.py drives this file and fails when
# they drift apart (an option missing, one too many, an argument taken or not).

_memprof_commands='run top convert diff merge flame snapshot attach timeline stats help'

# Per command: options that take an argument, then those that take none.
# --leak-check and top's --lifetimes take an optional one (--leak-check=full),
# written "=".
_memprof_args_run='-o --output --rate --depth --interval --snapshot-signal --allocator
	--leak-report --error-exitcode --fail-on --suppressions --http'
_memprof_flags_run='--stats --leak-check --gen-suppressions -q --quiet -h --help'
_memprof_args_top='-i --sample-index -n --nodecount'
_memprof_flags_top='--lifetimes -h --help'
_memprof_args_stats=''
_memprof_flags_stats='-h --help'
_memprof_args_convert='-o --output'
_memprof_flags_convert='-h --help'
_memprof_args_diff='-o --output -i --sample-index -n --nodecount --fail-on-growth
	--fail-on-stack-growth'
_memprof_flags_diff='-h --help'
_memprof_args_merge='-o --output'
_memprof_flags_merge='-h --help'
_memprof_args_flame='-o --output -i --sample-index --title'
_memprof_flags_flame='-h --help'
_memprof_args_snapshot='-t --timeout'
_memprof_flags_snapshot='--no-wait -q --quiet -h --help'
_memprof_args_attach='-p --pid -d --duration -r --rate --depth -o --output'
_memprof_flags_attach='--no-resources -v --verbose -q --quiet -h --help'
_memprof_args_timeline='-o --output -n --stacks --title'
_memprof_flags_timeline='-h --help'

# COMPREPLY += the files matching one of the globs in $2 (a |-separated
# list like '*.pb.gz|*.snap'; empty: any file), and directories, for the
# word $1.
_memprof_files()
{
	local cur=$1 f p
	local -a pats=() found=()
	[[ -n $2 ]] && IFS='|' read -ra pats <<<"$2"
	compopt -o filenames 2>/dev/null
	mapfile -t found < <(compgen -f -- "$cur")
	for f in "${found[@]}"; do
		if [[ -d $f || ${#pats[@]} -eq 0 ]]; then
			COMPREPLY+=("$f")
			continue
		fi
		for p in "${pats[@]}"; do
			# shellcheck disable=SC2053 # $p is a glob on purpose
			if [[ $f == $p ]]; then
				COMPREPLY+=("$f")
				break
			fi
		done
	done
}

_memprof_pids()
{
	local p pids=()
	for p in /proc/[0-9]*; do
		pids+=("${p#/proc/}")
	done
	mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -W "${pids[*]}" -- "$1")
}

_memprof_words()
{
	mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -W "$1" -- "$2")
}

# The value of option $2 of command $1, for the word $3.
_memprof_value()
{
	local cmd=$1 opt=$2 cur=$3
	case $opt in
	-o | --output)
		case $cmd in
		flame) _memprof_files "$cur" '*.svg' ;;
		timeline) _memprof_files "$cur" '*.html|*.svg' ;;
		*) _memprof_files "$cur" '*.pb.gz' ;;
		esac
		;;
	--leak-report) _memprof_files "$cur" '*.json|*.sarif|*.xml' ;;
	--suppressions) _memprof_files "$cur" '' ;;
	-i | --sample-index)
		_memprof_words 'inuse_space inuse_objects alloc_space alloc_objects' "$cur" ;;
	--allocator) _memprof_words 'memprof system' "$cur" ;;
	--leak-check) _memprof_words 'summary full' "$cur" ;;
	--lifetimes) _memprof_words '10us 100us 1ms 10ms 100ms 1s 10s' "$cur" ;;
	--snapshot-signal)
		_memprof_words 'USR1 USR2 HUP INT QUIT TERM ALRM WINCH PROF RTMIN RTMAX none' "$cur" ;;
	--fail-on)
		# a comma-separated list: complete its last item
		local done=${cur%"${cur##*,}"} item
		for item in definite indirect reachable fds threads timers; do
			[[ ,$done == *,$item,* ]] && continue
			[[ $item == "${cur##*,}"* ]] && COMPREPLY+=("$done$item")
		done
		compopt -o nospace 2>/dev/null
		;;
	-p | --pid) _memprof_pids "$cur" ;;
	*) ;;   # a number, size, duration or text: nothing to offer
	esac
}

_memprof()
{
	local cur=${COMP_WORDS[COMP_CWORD]} cword=$COMP_CWORD
	local -a words=("${COMP_WORDS[@]}")
	COMPREPLY=()

	# "--opt=value": bash splits it at '=' (COMP_WORDBREAKS) into "--opt",
	# "=", "value"; join them back.
	if [[ $cur == = && $cword -ge 2 ]]; then
		words=("${words[@]:0:cword-1}" "${words[cword-1]}=" "${words[@]:cword+1}")
		cword=$((cword - 1))
		cur=${words[cword]}
	elif [[ $cword -ge 3 && ${words[cword-1]} == = ]]; then
		words=("${words[@]:0:cword-2}" "${words[cword-2]}=$cur" "${words[@]:cword+1}")
		cword=$((cword - 2))
		cur=${words[cword]}
	fi

	if ((cword == 1)); then
		if [[ $cur == -* ]]; then
			_memprof_words '-h --help -V --version' "$cur"
		else
			_memprof_words "$_memprof_commands" "$cur"
		fi
		return 0
	fi
	local cmd=${words[1]}
	if [[ $cmd == help ]]; then
		((cword == 2)) && _memprof_words "${_memprof_commands% help}" "$cur"
		return 0
	fi
	local argsv=_memprof_args_$cmd flagsv=_memprof_flags_$cmd
	[[ $cmd =~ ^[a-z]+$ && -n ${!flagsv+x} ]] || return 0
	local args=" ${!argsv} " flags=${!flagsv}
	args=${args//$'\n'/ }
	args=${args//$'\t'/ }

	# Walk the words before the cursor: options and their arguments, then
	# the operands (for run: PROGRAM, whose own arguments follow).
	local i w nops=0 after_dd=0 prog_at=0
	for ((i = 2; i < cword; i++)); do
		w=${words[i]}
		if ((after_dd)) || [[ $w != -?* ]]; then
			((nops++))
			if [[ $cmd == run ]]; then
				prog_at=$i
				break
			fi
		elif [[ $w == -- ]]; then
			after_dd=1
		elif [[ $w != *=* && $args == *" $w "* ]]; then
			((i++))   # its argument
		fi
	done
	if ((prog_at)); then
		# the program's own arguments
		if declare -F _command_offset >/dev/null; then
			_command_offset "$prog_at"
		else
			_memprof_files "$cur" ''
		fi
		return 0
	fi

	# The value of the option before the cursor, or after "--opt=".
	local prev=${words[cword-1]}
	if ((!after_dd)) && [[ $cur == --*=* ]]; then
		local opt=${cur%%=*} val=${cur#*=} n
		n=${#COMPREPLY[@]}
		_memprof_value "$cmd" "$opt" "$val"
		# without '=' in COMP_WORDBREAKS the word is "--opt=value" as a whole
		if [[ $COMP_WORDBREAKS != *=* ]]; then
			for ((i = n; i < ${#COMPREPLY[@]}; i++)); do
				COMPREPLY[i]="$opt=${COMPREPLY[i]}"
			done
		fi
		return 0
	fi
	if ((!after_dd && cword > 2)) && [[ $prev == -* && $prev != *=* && $args == *" $prev "* ]]; then
		_memprof_value "$cmd" "$prev" "$cur"
		return 0
	fi

	if ((!after_dd)) && [[ $cur == -* ]]; then
		_memprof_words "${args//  / } $flags" "$cur"
		[[ $cmd == run ]] && _memprof_words '--leak-check=' "$cur"
		[[ $cmd == top ]] && _memprof_words '--lifetimes=' "$cur"
		[[ ${COMPREPLY[*]} == *= ]] && compopt -o nospace 2>/dev/null
		return 0
	fi

	# Operands.
	case $cmd in
	run)
		compopt -o filenames 2>/dev/null
		mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -c -- "$cur")
		_memprof_files "$cur" ''
		;;
	top | stats | diff | merge | flame) _memprof_files "$cur" '*.pb.gz' ;;
	convert) _memprof_files "$cur" '*.snap' ;;
	timeline) _memprof_files "$cur" '*.pb.gz|*.snap' ;;
	snapshot) ((nops == 0)) && _memprof_pids "$cur" ;;
	attach) _memprof_words "${args//  / } $flags" "$cur" ;;
	esac
	return 0
}

complete -F _memprof memprof
