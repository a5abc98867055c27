#!/usr/bin/env bash
# Installs Tessera as a systemd service, as root, from a checkout:
#   the binary (static Swift runtime) in /usr/local/bin, its man page and bash, zsh and fish
#   completions (generated from its argument parser), a `tessera` system user and group,
#   /etc/tessera/tessera.yaml (kept if present), the shipped styles in /var/lib/tessera/models
#   (a style of the same name already there is kept) and the unit. Where systemd runs, the unit
#   is enabled and started; elsewhere (a container, a chroot) it says what to enable.
#
#   deploy/install.sh [--binary FILE]     install (FILE: a tessera built already, with the
#                                         generate-manual built beside it, instead of building)
#   deploy/install.sh --uninstall         remove what it installed; keep /etc/tessera, the data
#                                         in /var/lib/tessera and the user
#   deploy/install.sh --uninstall --purge remove those too
#
# With DESTDIR=DIR every file goes under DIR (staging, packaging, the tests): no user or group is
# made, nothing is given to them, systemd is not told.
# Add yourself to the group to drop files: usermod -aG tessera "$USER".
set -euo pipefail
cd "$(dirname "$0")/.."

mode=install binary="" purge=no
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary="${2:?--binary needs a file}"; shift 2 ;;
        --uninstall) mode=uninstall; shift ;;
        --purge) purge=yes; shift ;;
        -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option '$1' (--binary FILE, --uninstall [--purge])" >&2; exit 2 ;;
    esac
done
[ "$purge" = no ] || [ "$mode" = uninstall ] || { echo "install.sh: --purge goes with --uninstall" >&2; exit 2; }
root="${DESTDIR:-}"
[ -n "$root" ] || [ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }

# Everything this script installs (the uninstall removes exactly these).
bin=$root/usr/local/bin/tessera
doc=$root/usr/local/share/doc/tessera
man=$root/usr/local/share/man/man1/tessera.1
completions=("$root/usr/local/share/bash-completion/completions/tessera"
             "$root/usr/local/share/zsh/site-functions/_tessera"
             "$root/usr/local/share/fish/vendor_completions.d/tessera.fish")
unit=$root/etc/systemd/system/tessera.service
config=$root/etc/tessera
data=$root/var/lib/tessera

# systemd is told only when it is the running init and this is not a staged install.
systemd_runs() { [ -z "$root" ] && [ -d /run/systemd/system ]; }
accounts() { [ -z "$root" ]; }

if [ "$mode" = uninstall ]; then
    if systemd_runs && systemctl list-unit-files tessera.service >/dev/null 2>&1; then
        systemctl disable --now tessera.service || true
    fi
    rm -f "$bin" "$man" "${completions[@]}" "$unit"
    rm -rf "$doc"
    if systemd_runs; then systemctl daemon-reload; fi
    if [ "$purge" = yes ]; then
        rm -rf "$config" "$data"
        if accounts; then
            if id tessera >/dev/null 2>&1; then userdel tessera; fi
            if getent group tessera >/dev/null; then groupdel tessera; fi
        fi
        echo "tessera is removed, with its settings, its data (database, folders, models) and its user"
    else
        echo "tessera is removed; kept: $config (settings), $data (database, folders, models) and the tessera user; --uninstall --purge removes them"
    fi
    exit 0
fi

if [ -z "$binary" ]; then
    dpkg -s libvips-dev libsqlite3-dev >/dev/null 2>&1 || (apt-get update && apt-get install -y libvips-dev libsqlite3-dev)
    swift build -c release --static-swift-stdlib --scratch-path .build/install
    swift build -c release --static-swift-stdlib --scratch-path .build/install --product generate-manual
    binary=.build/install/release/tessera
fi
manual_tool="$(dirname "$binary")/generate-manual"
[ -x "$binary" ] || { echo "install.sh: $binary: not an executable" >&2; exit 1; }
[ -x "$manual_tool" ] || { echo "install.sh: $manual_tool is missing (swift build -c release --product generate-manual)" >&2; exit 1; }

install -d -m 0755 "$(dirname "$bin")" "$doc" "$(dirname "$man")" "$(dirname "$unit")" "$config"
for file in "${completions[@]}"; do install -d -m 0755 "$(dirname "$file")"; done
install -s -m 0755 "$binary" "$bin"
install -m 0644 README.md "$doc/README.md"
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
"$manual_tool" "$bin" --output-directory "$staging" >/dev/null
install -m 0644 "$staging/tessera.1" "$man"
shells=(bash zsh fish) # in the order of $completions
for i in "${!shells[@]}"; do
    "$bin" --generate-completion-script "${shells[$i]}" >"$staging/completion"
    install -m 0644 "$staging/completion" "${completions[$i]}"
done

owner=()
if accounts; then
    getent group tessera >/dev/null || groupadd --system tessera
    id tessera >/dev/null 2>&1 || useradd --system --gid tessera --home-dir /var/lib/tessera --no-create-home --shell /usr/sbin/nologin tessera
    owner=(-o tessera -g tessera)
fi
[ -e "$config/tessera.yaml" ] || install -m 0644 deploy/tessera.yaml "$config/tessera.yaml"
install -d "${owner[@]}" -m 2770 "$data" "$data/models"
for model in Models/*.safetensors; do
    [ -e "$data/models/$(basename "$model")" ] || install "${owner[@]}" -m 0664 "$model" "$data/models/"
done
install -m 0644 deploy/tessera.service "$unit"

if systemd_runs; then
    systemctl daemon-reload
    systemctl enable --now tessera
    systemctl reload tessera # a reinstall brings new styles
    echo "tessera is running: drop images in /var/lib/tessera/inbox/<style>/, see \`tessera status\`"
else
    echo "tessera is installed${root:+ under $root}; systemd is not running here, so nothing was started."
    echo "Where systemd runs: systemctl daemon-reload && systemctl enable --now tessera"
fi
