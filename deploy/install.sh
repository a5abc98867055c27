#!/usr/bin/env bash
# Installs Tessera as a systemd service, as root, from a checkout:
#   the binary (static Swift runtime) in /usr/local/bin, a `tessera` system user and group,
#   /etc/tessera/tessera.yaml (kept if present), the shipped styles in /var/lib/tessera/models
#   (a style of the same name already there is kept), the unit, enabled and started.
# Add yourself to the group to drop files: usermod -aG tessera "$USER".
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
dpkg -s libvips-dev libsqlite3-dev >/dev/null 2>&1 || (apt-get update && apt-get install -y libvips-dev libsqlite3-dev)

swift build -c release --static-swift-stdlib --scratch-path .build/install
install -s -m 0755 .build/install/release/tessera /usr/local/bin/tessera
install -d -m 0755 /usr/local/share/doc/tessera
install -m 0644 README.md /usr/local/share/doc/tessera/README.md

getent group tessera >/dev/null || groupadd --system tessera
id tessera >/dev/null 2>&1 || useradd --system --gid tessera --home-dir /var/lib/tessera --no-create-home --shell /usr/sbin/nologin tessera
install -d -m 0755 /etc/tessera
[ -e /etc/tessera/tessera.yaml ] || install -m 0644 deploy/tessera.yaml /etc/tessera/tessera.yaml
install -d -o tessera -g tessera -m 2770 /var/lib/tessera /var/lib/tessera/models
for model in Models/*.safetensors; do
    [ -e "/var/lib/tessera/models/$(basename "$model")" ] || install -o tessera -g tessera -m 0664 "$model" /var/lib/tessera/models/
done

install -m 0644 deploy/tessera.service /etc/systemd/system/tessera.service
systemctl daemon-reload
systemctl enable --now tessera
systemctl reload tessera # a reinstall brings new styles
echo "tessera is running: drop images in /var/lib/tessera/inbox/<style>/, see \`TESSERA_DATABASE=/var/lib/tessera/tessera.sqlite tessera status\`"
