# bash completion for vaultfs(8): commands, subcommands, options and their values, and
# directories and files where a command takes them. It never runs vaultfs itself: every
# command on a vault is recorded in its audit trail, and completing a name must not be.
# shellcheck shell=bash

_vaultfs_words() {
	# the words before the current one, options and their arguments left out
	local i w skip=0
	_vaultfs_pos=()
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		if ((skip)); then
			skip=0
			continue
		fi
		case $w in
		--file | --version | --remove | --type | --alg | --ops | --passphrase-file | \
			--uid | --gid | --cgroup | --exe | -n | --lines | -o | --hsm-module | \
			--token | --pin-file)
			skip=1 # its value follows
			;;
		-*) ;;
		*) _vaultfs_pos+=("$w") ;;
		esac
	done
}

_vaultfs() {
	local cur prev words cword
	_init_completion -n = || return

	local commands="init mount secret key cert policy audit backup restore status watch"
	local -a _vaultfs_pos
	_vaultfs_words

	local cmd=${_vaultfs_pos[0]-} sub=${_vaultfs_pos[1]-}
	local npos=${#_vaultfs_pos[@]}

	# values of options, whatever the command
	case $prev in
	--file | --passphrase-file | --pin-file | --password-file)
		_filedir
		return
		;;
	--issuer)
		COMPREPLY=($(compgen -W "self unknown" -- "$cur"))
		return
		;;
	--hsm-module)
		_filedir so
		return
		;;
	--type)
		COMPREPLY=($(compgen -W "ec-p256 ec-p384 rsa-2048 rsa-3072 rsa-4096 aes-256" -- "$cur"))
		return
		;;
	--alg)
		COMPREPLY=($(compgen -W "ps256" -- "$cur"))
		return
		;;
	--ops)
		local prefix=${cur%"${cur##*,}"}
		COMPREPLY=($(compgen -P "$prefix" -W "sign encrypt decrypt wrap unwrap" -- "${cur##*,}"))
		compopt -o nospace
		return
		;;
	--uid)
		COMPREPLY=($(compgen -W "$(getent passwd | cut -d: -f3)" -- "$cur"))
		return
		;;
	--gid)
		COMPREPLY=($(compgen -W "$(getent group | cut -d: -f3)" -- "$cur"))
		return
		;;
	--cgroup)
		local cg=/sys/fs/cgroup
		[[ -d /sys/fs/cgroup/unified ]] && cg=/sys/fs/cgroup/unified
		COMPREPLY=($(cd "$cg" 2>/dev/null && compgen -d -- "${cur#/}" | sed 's|^|/|'))
		return
		;;
	--exe)
		_filedir
		return
		;;
	--remove)
		COMPREPLY=($(compgen -W "content_type enabled not_before expires tag." -- "$cur"))
		[[ ${COMPREPLY[0]-} == tag. ]] && compopt -o nospace
		return
		;;
	-o)
		[[ $cmd == mount ]] || return
		local prefix=${cur%"${cur##*,}"}
		COMPREPLY=($(compgen -P "$prefix" -W "threads= debug" -- "${cur##*,}"))
		compopt -o nospace
		return
		;;
	--token | --version | -n | --lines)
		return
		;;
	esac

	if ((npos == 0)); then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--help --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi

	local opts="" subs=""
	case $cmd in
	init)
		opts="--hsm-module --token --pin-file --help"
		;;
	mount)
		opts="-f --foreground -o --help"
		;;
	secret)
		subs="set get list versions delete recover purge attr"
		case $sub in
		set) opts="--file --create" ;;
		get) opts="--version" ;;
		list) opts="--deleted --expiring" ;;
		versions) opts="--deleted" ;;
		attr) opts="--remove --deleted" ;;
		esac
		opts+=" --help"
		;;
	key)
		subs="create import rotate policy list delete recover purge"
		case $sub in
		create) opts="--type --alg --ops --rotate-every --expires" ;;
		import) opts="--alg --ops --passphrase-file --rotate-every --expires" ;;
		policy) opts="--rotate-every --expires" ;;
		esac
		opts+=" --help"
		;;
	cert)
		subs="create import merge renew list get delete recover purge"
		case $sub in
		create) opts="--subject --san --type --days --ca --issuer --exportable --renew-at --reuse-key" ;;
		import) opts="--password-file --exportable --renew-at" ;;
		renew) opts="--reuse-key" ;;
		get) opts="--version" ;;
		esac
		opts+=" --help"
		;;
	policy)
		subs="check explain"
		[[ $sub == explain ]] && opts="--uid --gid --cgroup --exe"
		opts+=" --help"
		;;
	audit)
		subs="verify tail"
		[[ $sub == tail ]] && opts="-n --lines -f --follow --json"
		opts+=" --help"
		;;
	backup | restore | watch)
		opts="--help"
		;;
	status)
		opts="--metrics --help"
		;;
	*)
		return
		;;
	esac

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	if [[ -n $subs ]] && ((npos == 1)); then
		COMPREPLY=($(compgen -W "$subs" -- "$cur"))
		return
	fi

	# positional arguments: where each command takes a directory or a file
	local argi=$((npos - 1)) # the index of this word among the command's arguments
	[[ -n $subs ]] && argi=$((npos - 2))
	case $cmd in
	init | backup | restore | mount | status | watch)
		_filedir -d
		;;
	secret)
		if ((argi == 0)); then
			_filedir -d
		elif [[ $sub == attr ]] && ((argi == 2)); then
			COMPREPLY=($(compgen -W "version versions created updated content_type enabled not_before expires tag." -- "$cur"))
			[[ ${COMPREPLY[0]-} == tag. ]] && compopt -o nospace
		fi
		;;
	key)
		if ((argi == 0)); then
			_filedir -d
		elif [[ $sub == import ]] && ((argi == 2)); then
			_filedir pem
		fi
		;;
	cert)
		if ((argi == 0)); then
			_filedir -d
		elif [[ $sub == import || $sub == merge ]] && ((argi == 2)); then
			_filedir
		elif [[ $sub == get ]] && ((argi == 2)); then
			COMPREPLY=($(compgen -W "cert.pem chain.pem fullchain.pem csr.pem" -- "$cur"))
		fi
		;;
	policy)
		if ((argi == 0)); then
			_filedir # DIR, or a candidate FILE
		elif [[ $sub == explain ]] && ((argi == 1)); then
			COMPREPLY=($(compgen -W "list read write delete recover purge sign encrypt decrypt wrap unwrap export" -- "$cur"))
		fi
		;;
	audit)
		((argi == 0)) && _filedir -d
		;;
	esac
} && complete -F _vaultfs vaultfs
