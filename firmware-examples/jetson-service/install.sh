#!/usr/bin/env bash
# Installs edgert-live.service on a Jetson (JetPack 6). Run from this folder as root, after
# building edgert on the device (see README.md) and copying ONNX Runtime to /opt/edgert/lib.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
install -d /opt/edgert/bin /opt/edgert/lib /opt/edgert/models /etc/edgert
install -m 755 "$repo/target/release/edgert" /opt/edgert/bin/edgert
cp -r "$repo/models/tss-small" /opt/edgert/models/
[ -f /etc/edgert/edgert.env ] || install -m 644 "$here/edgert.env" /etc/edgert/edgert.env
id edgert >/dev/null 2>&1 || useradd --system --no-create-home --groups audio,video edgert
chown -R edgert:edgert /opt/edgert/models
set -a; . /etc/edgert/edgert.env; set +a
# Build the TensorRT engines and compile the query now, not at the first start.
sudo -u edgert -E /opt/edgert/bin/edgert compile "$EDGERT_MODEL" --backend "$EDGERT_BACKEND" --query "$EDGERT_QUERY"
install -m 644 "$here/edgert-live.service" /etc/systemd/system/edgert-live.service
systemctl daemon-reload
systemctl enable --now edgert-live.service
systemctl status --no-pager edgert-live.service
