# Bash completion for the `ddbfs` CLI (docs/cli.md, "Shell completion").
#   source scripts/ddbfs-completion.bash
# Completes commands and their options, local paths where a command takes
# local paths, and DDBFS paths by asking `ddbfs ls` (quietly; nothing is
# completed when the metaserver cannot be reached).

_ddbfs_commands="add upload import get download export cat ls list mkdir rm delete remove
mv move rename info status chmod chown tag untag tags proplist query find dupes propset
propget propdel key whoami fsck goal server backup restore help"

# Options of each command (global ones are added everywhere).
_ddbfs_options() {
  case $1 in
    add | upload | import) echo "-j --jobs -n --no-sync -f --force -t --tag" ;;
    get | download | export) echo "-j --jobs -f --force" ;;
    ls | list) echo "-l -d --directory --json" ;;
    mkdir) echo "-p --parents" ;;
    rm | delete | remove) echo "-r -R --recursive" ;;
    info | status) echo "--json" ;;
    tag | untag) echo "-t --tag -r --recursive" ;;
    tags | proplist) echo "--json --names --within --values" ;;
    query | find) echo "-l --count --sort --limit --print0 --json" ;;
    dupes) echo "-S --size --empty --json" ;;
    fsck) echo "--repair --wait --json" ;;
    goal) echo "-r --recursive --tag --json" ;;
    server) echo "--json" ;;
    backup) echo "--db" ;;
    restore) echo "--db --force" ;;
  esac
  echo "--meta -q --quiet -h --help"
}

# DDBFS entries below the directory part of $1, directories with a trailing /.
_ddbfs_remote() {
  local cur=$1 dir base meta=()
  [[ -n $_ddbfs_meta ]] && meta=(--meta "$_ddbfs_meta")
  if [[ $cur != /* ]]; then
    COMPREPLY=(/)
    return
  fi
  dir=${cur%/*}/
  base=${cur##*/}
  local json
  json=$(ddbfs "${meta[@]}" ls --json "$dir" 2> /dev/null) || return
  local name type
  while IFS=$'\t' read -r name type; do
    [[ $name == "$base"* ]] || continue
    if [[ $type == dir ]]; then
      COMPREPLY+=("$dir$name/")
    else
      COMPREPLY+=("$dir$name")
    fi
  done < <(sed -n 's/.*"name": "\([^"]*\)", "path": "[^"]*", "type": "\([a-z]*\)".*/\1\t\2/p' \
             <<< "$json")
  compopt -o nospace 2> /dev/null
}

# Tag names starting with $1 (ddbfs tags --names), as NAME or, after
# NAME=, nothing more (values are free text).
_ddbfs_tags() {
  local cur=$1 meta=()
  [[ -n $_ddbfs_meta ]] && meta=(--meta "$_ddbfs_meta")
  [[ $cur == *=* ]] && return
  local names
  names=$(ddbfs "${meta[@]}" tags --names 2> /dev/null) || return
  local IFS=$'\n'
  COMPREPLY+=($(compgen -W "$names" -- "$cur"))
}

_ddbfs() {
  local cur prev cmd i
  COMPREPLY=()
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD - 1]}
  _ddbfs_meta=
  cmd=
  local args=0  # positional arguments before the current word
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      --meta) _ddbfs_meta=${COMP_WORDS[i + 1]}; ((i++)) ;;
      -j | --jobs) ((i++)) ;;
      -*) ;;
      *) if [[ -z $cmd ]]; then cmd=${COMP_WORDS[i]}; else ((args++)); fi ;;
    esac
  done
  case $prev in
    --meta | -j | --jobs | --within | --sort | --limit) return ;;
    -t | --tag | --values)
      _ddbfs_tags "$cur"
      return
      ;;
  esac
  if [[ -z $cmd ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "--meta -q --quiet --version -h --help" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$_ddbfs_commands" -- "$cur"))
    fi
    return
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_ddbfs_options "$cmd")" -- "$cur"))
    return
  fi
  case $cmd in
    help) COMPREPLY=($(compgen -W "$_ddbfs_commands" -- "$cur")) ;;
    status) ;;
    add | upload | import)
      # Local sources, then a DDBFS destination: a word starting with /
      # after the first source may be either, so offer both.
      if ((args == 0)) || [[ $cur != /* ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
        compopt -o filenames 2> /dev/null
      fi
      ((args > 0)) && [[ $cur == /* ]] && _ddbfs_remote "$cur"
      ;;
    get | download | export)
      if [[ $cur == /* ]]; then _ddbfs_remote "$cur"; fi
      if ((args > 0)); then
        COMPREPLY+=($(compgen -f -- "$cur"))
        compopt -o filenames 2> /dev/null
      fi
      ;;
    tag | untag)
      # tag PATH TAG...; tag rename|merge|delete|imply|unimply NAME...; a
      # word not starting with / after the first is a tag.
      if ((args == 0)); then
        if [[ $cur == /* ]]; then
          _ddbfs_remote "$cur"
        elif [[ $cmd == tag ]]; then
          COMPREPLY=($(compgen -W "rename merge delete create imply unimply implies" -- "$cur"))
        fi
      elif [[ $cur == /* ]]; then
        _ddbfs_remote "$cur"
      else
        _ddbfs_tags "$cur"
      fi
      ;;
    query | find) _ddbfs_tags "$cur" ;;
    dupes) if ((args == 0)); then _ddbfs_remote "$cur"; fi ;;
    goal)
      # goal get|set|rm|list, then paths (a tag after --tag: above).
      if ((args == 0)); then
        COMPREPLY=($(compgen -W "get set rm list" -- "$cur"))
      elif [[ $cur == /* ]]; then
        _ddbfs_remote "$cur"
      fi
      ;;
    server) if ((args == 0)); then COMPREPLY=($(compgen -W "list drain undrain remove" -- "$cur")); fi ;;
    backup | restore) COMPREPLY=($(compgen -f -- "$cur")) ;;  # a local backup file
    propset | propget | propdel)
      if ((args == 0)); then _ddbfs_tags "$cur"; elif [[ $cur == /* ]]; then _ddbfs_remote "$cur"; fi
      ;;
    *) _ddbfs_remote "$cur" ;;
  esac
}

complete -F _ddbfs ddbfs
