# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
# The engines step's config search (provision/capabilities/engines.py), run by the probe and by the
# step. POSIX sh with find, xargs, stat -c, awk, cmp, base64 and sha256sum (coreutils, findutils and diffutils, or
# busybox); no Python.
# Usage: sh -s -- PLUGIN_LINK [n:MAX] [f:CONFIG | r:ROOT]...   (SHA_CACHE set by the caller)
#   r:ROOT    the *.txt (< 256 KiB) under ROOT (one file system) that are deepstream-app configs (a
#             [primary-gie] or [secondary-gieN] group) or nvinfer configs ([property] naming a model
#             or an engine); a root with more than MAX *.txt files (default 20000) is not searched,
#             and a `warning` line says so
#   f:CONFIG  a config, taken as it is; the config-file of an enabled nvinfer GIE of an app config
#             found is followed the same way
# Prints `config<TAB>path<TAB>base64 of the bytes` per config (or `skip<TAB>path<TAB>why`),
# `warning<TAB>text`, a `file<TAB>path<TAB>exists (1|0)<TAB>sha256<TAB>record` line for each model,
# calibration file and engine the configs name and each *.engine in their folders (each folder in
# an `engines<TAB>folder` line; the record: the engine's .dsprov.json on one line; the SHA-256 of
# an engine only where a cache has it), and `plugin<TAB>sha256` of the library PLUGIN_LINK names.
#
# A rerun reads only what changed. The verdict on each *.txt (and a config's bytes and references)
# is kept in the login user's ${XDG_CACHE_HOME:-~/.cache}/dsprov/probe/configs under the file's
# (inode, size, mtime, ctime, path); with GNU find, a root's *.txt whose mtime and ctime are older
# than a second before the last search that read something (probe/last) keeps its verdict without
# a stat of its own (find -newermt/-newerct; busybox's find has neither: stat -c gives the keys).
# SHA-256s come, under the same key, from root's $SHA_CACHE (written only by the steps that run with
# sudo, from hashes root computed: engines.refresh_sha_cache) or the user's own
# .../dsprov/probe/sha256, and only what neither has is read. A file changed within the last second
# is not cached by its key (the times are whole seconds). Nothing here needs root; with no writable
# cache folder, nothing is cached.
# A search that read and hashed nothing (all from the caches) keeps its whole output (probe/fast.sh)
# under a key: the arguments, the stat (device, inode, size, mtime, ctime) of each root, of every
# folder under it (one file system) and of every *.txt there (probe/fast.tree lists them; the keys are
# in the probe/fast.keys.PID that fast.sh names, compared with cmp), and the
# stat of every other file the output came from (the named and followed configs, the files they name,
# the engines of their folders, the plugin, both SHA-256 caches). A folder's mtime changes when an
# entry is added, removed or renamed in it, a mount or a swapped symlink changes its device or inode,
# and a *.txt's stat changes with its bytes: so the next search whose key is the same prints the kept
# output without reading a folder (xargs and stat are the only processes it starts; fast.sh is read by
# the shell, `.`). A tree taken within a second of a change in it is not kept (whole-second times).
# With GNU find 4.9 or later, within the boot it was kept in, the tree is checked by one find of its
# paths instead (-files0-from, -maxdepth 0): none changed (its ctime, which every change of a file's
# bytes, name or times sets, and an entry added, removed or renamed sets on its folder) since a second
# before the tree was taken, and each folder's device and inode the same; its only output is a line per
# folder, and no `*.txt` line is formatted or compared. Busybox, an older find and a new boot (whose
# clock may start behind the kept time) compare the keys. A folder of more than 32 *.txt and none a config
# (labels) is in the kept tree without its *.txt: its own ctime and keys stand for them (crowd, below).
plugin=$1; shift
args="fast 3 $HOME $plugin $*"
max=20000
tab=$(printf '\t')
umask 077
cache=${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/dsprov/probe
since=
[ -r "$cache/last" ] && IFS= read -r since < "$cache/last"
case $since in ''|*[!0-9]*) since=0 ;; esac

# listing GNU ARG...: the *.txt of the roots the arguments name, a line each: `I C C C C path` or `I U U U U
# path` with GNU find (GNU=1: changed or not since the last search that read something), else `I inode
# size mtime ctime path` (I: the root's number)
listing() {
    l_gnu=$1; shift; i=0
    for arg; do
        case $arg in r:*) ;; *) continue ;; esac
        p=${arg#r:}; case $p in "~") p=$HOME;; "~/"*) p=$HOME/${p#"~/"};; esac
        i=$((i + 1))
        [ -d "$p" ] || continue
        if [ "$l_gnu" = 1 ]; then
            find "$p" -xdev -name '*.txt' ! -name '*
*' -type f -size -256k \( \( -newermt "@$((since - 1))" -o -newerct "@$((since - 1))" \) \
                -printf "$i C C C C %p\n" -o -printf "$i U U U U %p\n" \) 2>/dev/null
        else
            find "$p" -xdev -name '*.txt' ! -name '*
*' -type f -size -256k -exec stat -c "$i %i %s %Y %Z %n" {} + 2>/dev/null
        fi
    done
}

# fast_key PATHS FOLDERS: the arguments, then the stat of the files PATHS lists, the engines (and their
# records) in the folders FOLDERS lists, the plugin and both SHA-256 caches
fast_key() {
    paths=$1 folders=$2
    set --
    while IFS= read -r p; do set -- "$@" "$p"; done < "$paths"
    [ -f "$folders" ] && while IFS= read -r d; do
        for g in "$d"/*.engine; do [ -f "$g" ] && set -- "$@" "$g" "$g.dsprov.json"; done
    done < "$folders"
    [ "$SHA_CACHE" != /dev/null ] && [ -r "$SHA_CACHE" ] && set -- "$@" "$SHA_CACHE"
    printf '%s\n' "$args"
    stat -L -c '%i %s %Y %Z %n' "$@" "$plugin" "$cache/sha256" 2>/dev/null
    return 0  # a file that is missing is part of the key by its absence
}
# tree_keys TREE: the stat of the paths TREE lists (NUL-terminated: the roots, their folders and *.txt), a
# line each; a path that is missing is part of the keys by its absence
tree_keys() {
    xargs -r -0 stat -c '%d %i %s %Y %Z %n' < "$1" 2>/dev/null
    return 0
}
# tree_since TREE T: with GNU find 4.9 or later (-files0-from), `C` where a path TREE lists changed
# (its ctime) after T, else the device and inode of each folder there, a line each (nothing where find
# has no -files0-from). ctime is the kernel's own, set by every write, rename, chmod or utime, and a
# folder's by each entry added, removed or renamed: so this sees what the keys see (a mount by its
# folder's device and inode), with no output to compare but a line per folder.
tree_since() {
    find -files0-from "$1" -maxdepth 0 \( -newerct "@$2" -printf 'C\n' -quit \) -o -type d -printf '%D %i\n' 2>/dev/null
    return 0
}
boot=; [ -r /proc/sys/kernel/random/boot_id ] && IFS= read -r boot < /proc/sys/kernel/random/boot_id
# tree_same: the kept tree unchanged; by its ctimes within the boot it was kept in (a clock set back across a
# boot could hide a change), else by its keys
tree_same() {
    if [ -n "$kept_devs" ] && [ -n "$boot" ] && [ "$kept_boot" = "$boot" ]; then
        [ "$(tree_since "$cache/fast.tree" "$kept_since"; echo .)" = "$kept_devs." ]
    else
        tree_keys "$cache/fast.tree" | cmp -s - "$cache/$kept_keys" || return 1
        # the keys again in a new boot whose clock is past the kept time: the ctimes hold from here on
        [ -n "$kept_devs" ] && [ -n "$boot" ] && [ "$(date +%s)" -gt "$kept_since" ] \
            && printf 'kept_boot=%s\n' "$boot" >> "$cache/fast.sh"
        return 0
    fi
}
# The kept output (fast.sh, the user's own: read by `.`, no process started) when the tree and the key
# are still those it was kept under
kept_key= kept_keys= kept_out= kept_devs= kept_since= kept_boot=
if [ -f "$cache/fast.sh" ] && [ -O "$cache" ] && [ -O "$cache/fast.sh" ] && [ -f "$cache/fast.paths" ] && [ -f "$cache/fast.tree" ] \
        && . "$cache/fast.sh" 2>/dev/null && [ -n "$kept_key" ] && [ -f "$cache/$kept_keys" ] \
        && tree_same \
        && [ "$(fast_key "$cache/fast.paths" "$cache/fast.folders"; echo .)" = "$kept_key." ]; then
    printf '%s' "$kept_out"
    exit 0
fi

w=$(mktemp -d 2>/dev/null) || { echo "warning${tab}the config search found no temporary folder (mktemp -d)"; exit 0; }
trap 'rm -rf "$w"' EXIT
exec 3>&1 >"$w/out"
{ [ -d "$cache" ] || mkdir -p "$cache" 2>/dev/null; } && [ -w "$cache" ] || cache=$w
[ -f "$cache/configs" ] || : > "$cache/configs"
[ -f "$cache/sha256" ] || : > "$cache/sha256"
[ -r "$SHA_CACHE" ] || SHA_CACHE=/dev/null
: > "$w/list"; : > "$w/roots"; : > "$w/named"; : > "$w/seen"; : > "$w/keep"; : > "$w/keepn"; : > "$w/fresh"
: > "$w/refs"; : > "$w/fastpaths"
i=0; gnu=
for arg; do
    kind=${arg%%:*}; p=${arg#*:}
    case $p in "~") p=$HOME;; "~/"*) p=$HOME/${p#"~/"};; esac
    case $kind in
        n) max=$p ;;
        f) printf '%s\n' "$p" >> "$w/named" ;;
        r) i=$((i + 1)); printf '%s\t%s\n' "$i" "$p" >> "$w/roots"
           [ -d "$p" ] && [ -z "$gnu" ] && { find "$w" -maxdepth 0 -printf '' 2>/dev/null && gnu=1 || gnu=0; } ;;
    esac
done
if [ "$cache" != "$w" ]; then  # this search is not the kept one: that key is stale
    rm -f "$cache/fast.sh" "$cache"/fast.keys.*
    # the tree of the roots and its keys, before their listing: what changes after these keys shows in the next
    # search's; what changed since t0 (or within its second) leaves the output unkept
    t0=$(date +%s)
    for arg; do
        case $arg in r:*) ;; *) continue ;; esac
        p=${arg#r:}; case $p in "~") p=$HOME;; "~/"*) p=$HOME/${p#"~/"};; esac
        printf '%s\0' "$p"
        [ -d "$p" ] && find "$p" -xdev \( -type d -o -name '*.txt' \) -print0 2>/dev/null
    done > "$w/fast.tree"
    tree_keys "$w/fast.tree" > "$w/tree.keys"
fi
listing "${gnu:-0}" "$@" > "$w/list"
now=$(date +%s)  # before anything is read: a file changed in this second or the last is not cached by its key

# keep NAME: $w/NAME becomes $cache/NAME (copied beside it, then renamed: a reader sees one or the other)
keep() {
    [ "$cache" = "$w" ] || { cp "$w/$1" "$cache/$1.$$" && mv -f "$cache/$1.$$" "$cache/$1"; } 2>/dev/null
}

# awk helpers: a path normalised as Python's posixpath.normpath does (the names the controller uses)
NORM='
function norm(p,   n, a, i, o, k, lead) {
    lead = substr(p, 1, 1) == "/"; n = split(p, a, "/"); k = 0
    for (i = 1; i <= n; i++) {
        if (a[i] == "" || a[i] == ".") continue
        if (a[i] == ".." && k > 0 && o[k] != "..") { k--; continue }
        if (a[i] == ".." && lead) continue
        o[++k] = a[i]
    }
    p = lead ? "/" : ""
    for (i = 1; i <= k; i++) p = p (i > 1 ? "/" : "") o[i]
    return p == "" ? "." : p
}
function under(d, v) { return norm(substr(v, 1, 1) == "/" ? v : d "/" v) }
function load(file,   line) { while ((getline line < file) > 0) seen[line] = 1; close(file) }
'

# One round: stat the files $named lists, then merge the listing with the cache. A cached verdict whose key
# still matches is kept: a config's in $w/keep (its `t` line with key, path, c and base64, then its
# `r` lines, the config's references), the others' in $w/keepn; the rest go to $w/read. Each config
# kept goes to $w/seen, and the enabled GIEs' configs of the app configs kept that are not there to
# $follow.
round() {
    if [ -s "$named" ]; then
        set --
        while IFS= read -r p; do set -- "$@" "$p"; printf '%s\n' "$p" >> "$w/fastpaths"; done < "$named"
        stat -L -c "0 %i %s %Y %Z %n" "$@" 2>/dev/null >> "$w/list"
    fi
    : > "$w/read"; : > "$follow"
    awk -v max="$max" -v out="$w" -v follow="$follow" "$NORM"'
    BEGIN { FS = "\t" }
    FILENAME == ARGV[1] { if ($1 == "t") { verdict[$2 "\t" $3] = $4; vp[$3] = $4; kp[$3] = $2; if ($4 == "c") t[$3] = $0; cur = $3 }
                          else if ($1 == "r") refs[cur] = refs[cur] $0 "\n"
                          next }
    FILENAME == ARGV[2] { root[$1] = substr($0, length($1) + 2); next }
    FILENAME == ARGV[3] { wanted[$0] = 1; next }
    { m++; j = index($0, " "); r[m] = substr($0, 1, j - 1); count[r[m]]++; s = substr($0, j + 1); c = substr(s, 1, 8)
      if (c == "U U U U " || c == "C C C C ") { k[m] = substr(c, 1, 7); f[m] = substr(s, 9); next }
      split(s, a, " "); k[m] = a[1] " " a[2] " " a[3] " " a[4]
      f[m] = substr(s, length(a[1]) + length(a[2]) + length(a[3]) + length(a[4]) + 5) }
    END {
        load(out "/seen")
        for (j in count) if (j != 0 && count[j] > max)
            printf "warning\t%s: more than %d *.txt files (dsprov_engine_search_max_files): not searched\n", root[j], max
        for (pass = 0; pass < 2; pass++) for (l = 1; l <= m; l++) {
            if ((r[l] == 0) != (pass == 0) || (r[l] != 0 && count[r[l]] > max)) continue
            if (r[l] == 0) delete wanted[f[l]]
            p = f[l]
            if (index(p, "/.") || index(p, "//") || substr(p, length(p)) == "/") p = norm(p)
            if (p in listed || p in seen) continue
            listed[p] = 1
            if (index(p, "\t")) { print "skip\t" p "\tname has a tab"; continue }
            if (k[l] == "U U U U" && p in vp) { v = vp[p]; k[l] = kp[p] }  # unchanged since the last search
            else v = k[l] != "C C C C" && (k[l] "\t" p) in verdict ? verdict[k[l] "\t" p] : ""  # C: changed
            if (v == "c") { printf "%s\n%s", t[p], refs[p] >> (out "/keep"); print p >> (out "/seen"); kept[p] = 1 }
            else if (v == "n" && r[l] != 0) others[++o] = "t\t" k[l] "\t" p "\tn"
            else { print k[l] "\t" (r[l] == 0 ? "f" : "r") "\t" p >> (out "/read"); reads++ }
        }
        for (n in wanted) print "skip\t" n "\tcannot read"
        if (reads) for (j = 1; j <= o; j++) print others[j] >> (out "/keepn")  # only a rewritten cache needs them
        for (p in kept) { n = split(refs[p], a, "\n")
            for (j = 1; j <= n; j++) if (split(a[j], b, "\t") == 4 && b[3] == "c" && !(b[4] in seen) && !(b[4] in kept))
                print b[4] >> follow }
    }' "$cache/configs" "$w/roots" "$named" "$w/list"
    : > "$w/list"
    [ -s "$w/read" ] || return 0
    # Read each new or changed file once: its verdict (`t`) and a config's references (`r<TAB>path
    # <TAB>e|m|c<TAB>file`: engine, model or calibration file, an enabled nvinfer GIE's config).
    awk -v out="$w" -v follow="$follow" "$NORM"'
    function gie_done() {
        if (gie && enabled && (ptype == "" || ptype == 0) && cfg != "") {
            refs = refs "r\t" p "\tc\t" under(d, cfg) "\n"
            if (!(under(d, cfg) in seen)) print under(d, cfg) >> follow
        }
        gie = 0
    }
    BEGIN { FS = "\t"; load(out "/seen") }
    {
        k = $1; kind = $2; p = $3; d = p; sub(/\/[^\/]*$/, "", d); app = 0; prop = 0; model = 0; refs = ""; gie = 0
        while ((ok = (getline s < p)) > 0) {
            sub(/\r$/, "", s)
            if (s ~ /^[ \t]*\[/) {
                gie_done(); group = s; sub(/^[ \t]*\[/, "", group); sub(/\].*$/, "", group)
                gie = group ~ /^(primary-gie|secondary-gie[0-9]+)$/
                if (gie) { app = 1; enabled = 0; ptype = ""; cfg = "" }
                if (group == "property") prop = 1
                continue
            }
            if (s !~ /^[ \t]*[A-Za-z0-9_-]+[ \t]*=/) continue
            name = s; sub(/^[ \t]*/, "", name); sub(/[ \t]*=.*$/, "", name)
            v = s; sub(/^[^=]*=[ \t]*/, "", v); sub(/#.*$/, "", v); sub(/[ \t]+$/, "", v)
            if (name ~ /^(onnx-file|model-engine-file|tlt-encoded-model|custom-network-config)$/) model = 1
            if (gie && name == "enable") enabled = tolower(v) == "1" || tolower(v) == "true"
            if (gie && name == "plugin-type") ptype = v
            if (gie && name == "config-file") cfg = v
            if (v != "" && name ~ /^(model-engine-file|onnx-file|model-file|int8-calib-file|tlt-encoded-model)$/)
                refs = refs "r\t" p "\t" (name == "model-engine-file" ? "e" : "m") "\t" under(d, v) "\n"
        }
        gie_done()
        close(p)
        if (ok < 0) { print "skip\t" p "\tcannot read"; next }
        verdict = (kind == "f" || app || (prop && model)) ? "c" : "n"
        print "t\t" k "\t" p "\t" verdict >> (out "/fresh")
        print p >> (out "/seen")
        if (verdict == "c") printf "%s", refs >> (out "/fresh")
    }' "$w/read"
}

named=$w/named follow=$w/follow1
round
if [ -s "$w/follow1" ]; then
    named=$w/follow1 follow=$w/follow2
    round
fi
if [ -s "$w/fresh" ]; then  # the bytes of each config read this time (`b<TAB>path<TAB>base64`)
    while IFS="$tab" read -r t k p v; do
        [ "$t" = t ] && [ "$v" = c ] && printf 'b\t%s\t%s\n' "$p" "$(base64 < "$p" | tr -d '\n')"
    done < "$w/fresh" >> "$w/fresh"
fi

# The configs found (`config` lines) and, where something was read, the new cache (the first verdict
# on a path: what was read, then what was kept; one read this time is cached unless its file changed
# within the last second); to $w/refs the references, to $w/named the files the configs name and the
# records beside their engines, to $w/folders the folders of those files.
others=/dev/null
[ -s "$w/fresh" ] && others=$w/keepn
awk -v out="$w" -v now="$now" '
    BEGIN { FS = "\t" }
    $1 == "b" { b[$2] = $3; next }
    $1 == "t" { if ($3 in known) next
                known[$3] = 1; n++; t[n] = $1 "\t" $2 "\t" $3 "\t" $4; p[n] = $3; v[n] = $4; if ($5 != "") b[$3] = $5
                split($2, a, " "); racy[n] = a[3] + 0 >= now - 1 || a[4] + 0 >= now - 1; next }
    $1 == "r" { r[$2] = r[$2] $0 "\n"; print > (out "/refs")
                if ($3 != "c") { if (!($4 in named)) { named[$4] = 1; print $4 > (out "/named"); if ($3 == "e") print $4 ".dsprov.json" > (out "/named") }
                                 d = $4; sub(/\/[^\/]*$/, "", d); if (!(d in folders)) { folders[d] = 1; print (d == "" ? "/" : d) > (out "/folders") } } }
    END {
        for (i = 1; i <= n; i++) {
            if (v[i] == "c" && !(p[i] in b)) continue
            if (v[i] == "c") print "config\t" p[i] "\t" b[p[i]]
            if (racy[i]) continue
            print t[i] (v[i] == "c" ? "\t" b[p[i]] : "") > (out "/configs")
            if (v[i] == "c") printf "%s", r[p[i]] > (out "/configs")
        }
    }' "$w/fresh" "$w/keep" "$others"
if [ -s "$w/fresh" ]; then
    keep configs
    [ "$cache" = "$w" ] || printf '%s\n' "$now" > "$cache/last"
fi

# Stat those files, the *.engine of their folders and the plugin in one call; SHA-256s from the
# caches (root's first); models and the plugin that neither has are hashed, and the user's cache
# gets them. An engine is not hashed here: its SHA-256 comes from the cache the sudo steps write.
set --
if [ -f "$w/folders" ]; then
    while IFS= read -r d; do
        printf 'engines\t%s\n' "$d"
        for g in "$d"/*.engine; do [ -f "$g" ] && set -- "$@" "$g" "$g.dsprov.json"; done
    done < "$w/folders"
    while IFS= read -r p; do set -- "$@" "$p"; printf '%s\n' "$p" >> "$w/fastpaths"; done < "$w/named"
fi
stat -L -c '%i %s %Y %Z %n' "$@" "$plugin" 2>/dev/null > "$w/stat"
: > "$w/sums"
FILES='
    FILENAME == ARGV[1] || FILENAME == ARGV[2] { split($0, a, "\t"); if (!((a[1] "\t" a[3]) in sha)) sha[a[1] "\t" a[3]] = a[2]; next }
    FILENAME == ARGV[3] { split($0, a, "\t"); if (a[3] != "c") kind[a[4]] = a[3]; next }
    FILENAME == ARGV[4] { s = $0; sub(/^[0-9a-f]* [ *]/, "", s); summed[s] = substr($0, 1, 64); next }
    { f = $0; sub(/^[^ ]* [^ ]* [^ ]* [^ ]* /, "", f); split($0, a, " ")
      k[f] = a[1] " " a[2] " " a[3] " " a[4]; racy[f] = a[3] >= now - 1 || a[4] >= now - 1 }
    function cached(f) { return (f in k) && ((k[f] "\t" f) in sha) ? sha[k[f] "\t" f] : "" }
    function record(f,   line, r) {
        if (!((f ".dsprov.json") in k)) return ""
        while ((getline line < (f ".dsprov.json")) > 0) r = r line " "
        close(f ".dsprov.json"); gsub(/\t/, " ", r); return r
    }
    function sum(f,   s) {
        s = cached(f)
        if (s == "" && (f in summed)) { s = summed[f]; if (!racy[f]) { print k[f] "\t" s "\t" f > new; fresh = 1 } }
        return s
    }
    END {
        if (!hashed) for (f in k) if ((f == plugin || (f in kind) && kind[f] == "m") && cached(f) == "") { print f > (out "/hash"); miss = 1 }
        if (miss) exit 3
        for (f in kind) printf "file\t%s\t%d\t%s\t%s\n", f, (f in k), (kind[f] == "m" ? sum(f) : cached(f)), (kind[f] == "e" ? record(f) : "")
        for (f in k) if (f ~ /\.engine$/ && !(f in kind)) printf "file\t%s\t1\t%s\t%s\n", f, cached(f), record(f)
        if ((s = sum(plugin)) != "") print "plugin\t" s
        if (!fresh) exit
        while ((getline line < user) > 0) { split(line, a, "\t"); if (a[1] == k[a[3]]) print line > new }
        close(new); print "" > (out "/sha256.ready")
    }'
files() {
    awk -v now="$now" -v plugin="$plugin" -v out="$w" -v user="$cache/sha256" -v new="$w/sha256" -v hashed="$1" \
        "$FILES" "$SHA_CACHE" "$cache/sha256" "$w/refs" "$w/sums" "$w/stat"
}
if ! files "" && [ -s "$w/hash" ]; then
    set --
    while IFS= read -r p; do set -- "$@" "$p"; done < "$w/hash"
    sha256sum "$@" > "$w/sums" 2>/dev/null
    files 1
fi
[ -f "$w/sha256.ready" ] && keep sha256
cat "$w/out" >&3
# crowd: the tree ($w/fast.tree, NUL-terminated; no name in it has a newline once its keys passed) and its keys
# ($w/tree.keys) less the *.txt of each folder that holds more than $crowd of them and no config (a folder of
# labels): its own ctime and keys stand for them (an entry added, removed or renamed there changes them), so a
# kept check does not stat them one by one. A *.txt there rewritten in place (no rename) is seen by the
# first search that reads again (its listing compares every file's ctime): once anything else the kept
# output is keyed on changes (an entry of that folder, a config, a model, an engine).
crowd=32
crowd() {
    tr '\0' '\n' < "$w/fast.tree" > "$w/tree.lines"
    : > "$w/tree.kept"; : > "$w/keys.kept"
    awk -v crowd="$crowd" -v lines="$w/tree.lines" -v keys="$w/tree.keys" -v out="$w" '
        FILENAME == lines { intree[$0] = 1; next }
        $1 == "t" && ($3 in intree) { d = $3; sub(/\/[^\/]*$/, "", d); dir[$3] = d; if ($4 == "c") c[d] = 1; else n[d]++ }
        function watched(p) { return !(p in dir) || (dir[p] in c) || n[dir[p]] <= crowd }
        END {
            while ((getline p < lines) > 0) if (watched(p)) print p > (out "/tree.kept")
            while ((getline k < keys) > 0) { p = k; sub(/^[^ ]* [^ ]* [^ ]* [^ ]* [^ ]* /, "", p); if (watched(p)) print k > (out "/keys.kept") }
        }' FS="\t" "$w/tree.lines" "$cache/configs" \
        && tr '\n' '\0' < "$w/tree.kept" > "$w/fast.tree" && mv -f "$w/keys.kept" "$w/tree.keys"
}
if [ "$cache" != "$w" ] && [ ! -s "$w/fresh" ] && [ ! -s "$w/hash" ]; then  # all from the caches: kept whole
    [ -f "$w/folders" ] && cp "$w/folders" "$w/fast.folders" || : > "$w/fast.folders"
    quote() {  # a file of lines as one shell word
        printf "'"; awk -v q="'" '{ gsub(q, q "\\\\" q q); print }' "$1"; printf "'"
    }
    # not kept where a key of the tree is of t0's second or later, or a line is not a key (a name with a newline)
    awk -v t0="$t0" '!/^[0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+ / || $4 + 0 >= t0 - 1 || $5 + 0 >= t0 - 1 { exit 1 }' \
            "$w/tree.keys" \
        && crowd && cp "$w/fastpaths" "$w/fast.paths" && keep fast.paths && keep fast.folders && keep fast.tree \
        && cp "$w/tree.keys" "$w/fast.keys.$$" && keep "fast.keys.$$" \
        && fast_key "$w/fast.paths" "$w/fast.folders" > "$w/key" \
        && { tree_since "$w/fast.tree" $((t0 - 1)) > "$w/devs"; awk '$0 == "C" { exit 1 }' "$w/devs" || : > "$w/devs"; } \
        && printf 'kept_keys=%s\nkept_key=%s\nkept_out=%s\nkept_since=%s\nkept_devs=%s\nkept_boot=%s\n' "fast.keys.$$" \
            "$(quote "$w/key")" "$(quote "$w/out")" $((t0 - 1)) "$(quote "$w/devs")" "$boot" > "$w/fast.sh" && keep fast.sh
fi
exit 0
