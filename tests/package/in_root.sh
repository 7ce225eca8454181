#!/bin/sh
# Runs inside a fresh Debian 12 root (made by package.sh with mmdebstrap):
# installs the package, uses it as an operator would, runs each unit's
# commands in its sandbox, upgrades, removes and purges it. Every check
# names what it expected; the first failure stops it.
#   in_root.sh DEB          everything
#   in_root.sh --units DEB  (itself, in its own network and process namespaces)
set -eu
fail() { echo "in_root: FAIL: $*" >&2; exit 1; }
mode_owner() { stat -c '%a %U:%G' "$1"; }
expect_mode() { # expect_mode PATH "MODE USER:GROUP"
    got=$(mode_owner "$1")
    [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
}
as_ct() { runuser -u celltrace -- "$@"; }
# nothing under the data directory or the keys for anyone but the user
private_to_user() {
    loose=$(find /var/lib/celltrace /etc/celltrace/keys ! -type l \( -perm /077 -o ! -user celltrace \))
    [ -z "$loose" ] || fail "readable or owned by another ($1): $loose"
}

# sandboxed UNIT [COMMAND]: runs the unit's ExecStart lines (or COMMAND)
# as systemd would for what matters here: as celltrace, with the unit's
# Environment=, everything read-only but its ReadWritePaths=
# (ProtectSystem=strict) and a private /tmp (PrivateTmp). A unit that
# writes where it may not fails here, as it would under systemd. UNIT may
# be a template's instance (NAME@INSTANCE): %i is the instance.
sandboxed() {
    case $1 in
    *@*) unit=/lib/systemd/system/${1%%@*}@.service instance=${1#*@} ;;
    *) unit=/lib/systemd/system/$1.service instance= ;;
    esac
    cmds=${2:-$(sed -n 's/^ExecStart=//p' "$unit" | sed "s/%i/$instance/g")}
    rw=$(sed -n 's/^ReadWritePaths=//p' "$unit" | sed "s/%i/$instance/g")
    env=$(sed -n 's/^Environment=//p' "$unit" | tr '\n' ' ')
    # the caller's mount namespace is private already (a chroot's / is no
    # mount point, so unshare could not make it private itself)
    unshare --mount --propagation unchanged -- sh -eu -c '
        for d in /etc /usr /var /opt /srv /root /home /boot; do
            [ -d "$d" ] && [ ! -L "$d" ] || continue
            mount --bind "$d" "$d" && mount -o remount,bind,ro "$d"
        done
        for p in $1; do
            p=${p#-}
            [ -e "$p" ] || continue
            mount --bind "$p" "$p" && mount -o remount,bind,rw "$p"
        done
        mount -t tmpfs -o mode=1777 tmpfs /tmp
        printf "%s\n" "$3" | while IFS= read -r cmd; do
            runuser -u celltrace -- env $2 sh -c "$cmd" < /dev/null || exit 1
        done' sh "$rw" "$env" "$cmds"
}

# The units' commands, with data loaded as an operator would. Run in new
# network and process namespaces: the servers' ports and pkill see
# nothing of the machine around.
units() {
    mount -t proc proc /proc
    ip link set lo up
    cp -r /tmp/basic /var/tmp/basic && chmod -R a+rX /var/tmp/basic
    as_ct celltrace --quiet cells import --operator 250-01 /var/tmp/basic/cells_250-01.csv
    as_ct celltrace --quiet cells import --operator 250-02 /var/tmp/basic/cells_250-02.csv
    # exit 3: rows rejected (the fixture has bad rows on purpose)
    as_ct celltrace --quiet ingest --compact now --operator 250-01 /var/tmp/basic/events_250-01.csv || [ $? = 3 ]
    as_ct celltrace --quiet ingest --compact now --operator 250-02 /var/tmp/basic/events_250-02.csv || [ $? = 3 ]
    as_ct celltrace --quiet cases import /var/tmp/basic/cases.csv
    head=$(cat /etc/celltrace/keys/audit.head 2>/dev/null || true)
    sandboxed celltrace-run || fail "celltrace-run's commands failed in its sandbox"
    as_ct celltrace --reason "package test" export --region RU-MOW > /tmp/export.csv
    [ "$(grep -c ',K1,RU-MOW,' /tmp/export.csv)" -ge 2 ] || { cat /tmp/export.csv; fail "the run stored no contacts of K1"; }
    [ "$(cat /etc/celltrace/keys/audit.head)" != "$head" ] || fail "the run's audit records did not move audit.head"
    as_ct celltrace audit verify > /dev/null || fail "audit verify"
    sandboxed celltrace-notify "/usr/bin/celltrace notify --daemon --max-time 3" ||
        fail "celltrace-notify failed in its sandbox"
    # an operator's drop folder, as README.Debian makes it; its file taken
    # (all duplicates: stored above) and removed, in the unit's sandbox
    install -d -o celltrace -g celltrace -m 3770 /var/spool/celltrace/250-01
    # the operator's file, not the service's: claimed by a rename, which
    # protected_hardlinks allows (a hard link to it would be refused)
    install -o nobody -g celltrace -m 0640 /var/tmp/basic/events_250-01.csv /var/spool/celltrace/250-01/d1.csv
    # one the service may not read: left where it is, said, not a stop
    install -o nobody -g nogroup -m 0600 /var/tmp/basic/events_250-01.csv /var/spool/celltrace/250-01/d0.csv
    sandboxed celltrace-spool@250-01 \
        "/usr/bin/celltrace ingest --operator 250-01 --spool /var/spool/celltrace/250-01 --once --settle 0 || [ \$? = 3 ]" \
        > /tmp/spool.log 2>&1 || { cat /tmp/spool.log; fail "celltrace-spool@250-01 failed in its sandbox"; }
    grep -q '^ingest: d1.csv: .* 0 stored' /tmp/spool.log || { cat /tmp/spool.log; fail "the spool did not take d1.csv"; }
    [ ! -e /var/spool/celltrace/250-01/d1.csv ] || fail "the spool left d1.csv in its folder"
    [ -d /var/spool/celltrace/250-01/.taking ] || fail "the spool made no claim folder"
    [ -z "$(ls -A /var/spool/celltrace/250-01/.taking)" ] || fail "the spool left a claimed file"
    [ -e /var/spool/celltrace/250-01/d0.csv ] || fail "the spool moved a file it may not read"
    grep -q 'd0.csv: this user may not read it' /tmp/spool.log || { cat /tmp/spool.log; fail "an unreadable file was not reported"; }
    token=$(as_ct celltrace users add package-test --role federal | tail -1)
    sandboxed celltrace-serve > /tmp/serve.log 2>&1 &
    ok=0
    for _ in $(seq 1 50); do
        if curl -sf http://127.0.0.1:8080/healthz > /dev/null; then ok=1; break; fi
        sleep 0.2
    done
    [ $ok = 1 ] || { cat /tmp/serve.log; fail "celltrace-serve did not answer in its sandbox"; }
    code=$(curl -s -o /tmp/contacts.json -w '%{http_code}' -H "Authorization: Bearer $token" \
           -H "X-Reason: package test" http://127.0.0.1:8080/api/v1/cases/K1/contacts || true)
    pkill -TERM -f 'celltrace serve' || true
    wait || true
    [ "$code" = 200 ] || { cat /tmp/contacts.json /tmp/serve.log; fail "GET contacts answered $code"; }
    grep -q '"total"' /tmp/contacts.json || { cat /tmp/contacts.json; fail "no contacts page"; }
    as_ct celltrace audit verify > /dev/null || fail "audit verify after serve"
    private_to_user "after the units ran"
}

if [ "$1" = --units ]; then
    units
    exit 0
fi
deb=$1
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "$deb" > /tmp/install.log 2>&1 || { cat /tmp/install.log; fail "apt-get install"; }

echo "in_root: installed; checking the binary, the user and the modes"
celltrace --version
celltrace --help | grep -q 'else /var/lib/celltrace)' || fail "the default data directory is not /var/lib/celltrace"
[ -s /usr/share/man/man1/celltrace.1.gz ] || fail "no man page"
getent passwd celltrace | grep -q ':/var/lib/celltrace:/usr/sbin/nologin$' ||
    fail "celltrace user: $(getent passwd celltrace)"
expect_mode /var/lib/celltrace "700 celltrace:celltrace"
expect_mode /etc/celltrace "750 root:celltrace"
expect_mode /etc/celltrace/celltrace.conf "640 root:celltrace"
expect_mode /etc/celltrace/keys "700 celltrace:celltrace"
expect_mode /var/spool/celltrace "750 root:celltrace"
grep -qx /etc/celltrace/celltrace.conf /var/lib/dpkg/info/celltrace.conffiles || fail "not a conffile"

echo "in_root: celltrace init as the service user, keys in /etc/celltrace/keys"
cd /tmp   # not the data directory's parent: the default must be used
as_ct celltrace init --key-dir /etc/celltrace/keys
as_ct celltrace stats > /tmp/stats.txt
expect_mode /var/lib/celltrace "700 celltrace:celltrace"
expect_mode /etc/celltrace/keys/keyring "600 celltrace:celltrace"
private_to_user "after init"
[ ! -e /var/lib/celltrace/keys ] || fail "keys inside the data directory"
# root in the service's data directory is refused, and makes nothing
if celltrace stats > /tmp/root.txt 2>&1; then fail "root ran stats in celltrace's data directory"; fi
grep -q 'belongs to celltrace, not root' /tmp/root.txt || { cat /tmp/root.txt; fail "root's refusal"; }
# the site file (root's) below the data directory's (the user's)
echo 'sms.sender = SITE' >> /etc/celltrace/celltrace.conf
[ "$(as_ct celltrace config get sms.sender)" = SITE ] || fail "the site file's value is not used"
as_ct celltrace config set sms.sender MINZDRAV
[ "$(as_ct celltrace config get sms.sender)" = MINZDRAV ] || fail "config set did not override the site"
grep -qx 'sms.sender = MINZDRAV' /var/lib/celltrace/celltrace.conf || fail "config set did not write the data directory's file"
grep -qx 'keys.dir = /etc/celltrace/keys' /var/lib/celltrace/celltrace.conf || fail "init did not write keys.dir"
grep -qx 'sms.sender = SITE' /etc/celltrace/celltrace.conf || fail "config set changed the site file"
expect_mode /var/lib/celltrace/celltrace.conf "600 celltrace:celltrace"
# another user may not read the data (root may; nobody may not)
if runuser -u nobody -- celltrace stats > /dev/null 2>&1; then fail "nobody read the data"; fi

echo "in_root: systemd-analyze verify and security"
for u in celltrace-serve.service celltrace-notify.service celltrace-run.service celltrace-run.timer \
         celltrace-spool@.service; do
    [ -f "/lib/systemd/system/$u" ] || fail "no unit $u"
done
enabled=$(find /etc/systemd/system -name 'celltrace*')
[ -z "$enabled" ] || fail "the install enabled: $enabled"
systemd-analyze verify /lib/systemd/system/celltrace-serve.service \
    /lib/systemd/system/celltrace-notify.service /lib/systemd/system/celltrace-run.service \
    /lib/systemd/system/celltrace-run.timer /lib/systemd/system/celltrace-spool@250-01.service \
    > /tmp/verify.txt 2>&1 || { cat /tmp/verify.txt; fail "systemd-analyze verify"; }
if grep -i celltrace /tmp/verify.txt; then fail "systemd-analyze verify complained"; fi
# the sandbox, scored by systemd itself (lower is safer; 10 is unsandboxed)
for u in celltrace-serve celltrace-notify celltrace-run; do
    systemd-analyze security --offline=true "/lib/systemd/system/$u.service" 2>/dev/null | tail -1 || true
done

echo "in_root: each unit's commands, in the unit's sandbox"
unshare --net --pid --fork --mount --propagation unchanged -- sh "$0" --units ||
    fail "the units' commands"

echo "in_root: an upgrade (reinstall) keeps the data and the settings, and the modes"
apt-get install --reinstall -y -q "$deb" > /tmp/install2.log 2>&1 || { cat /tmp/install2.log; fail "reinstall"; }
as_ct celltrace --reason "package test" export --region RU-MOW | grep -q ',K1,RU-MOW,' || fail "contacts lost by the upgrade"
grep -qx 'sms.sender = SITE' /etc/celltrace/celltrace.conf || fail "the upgrade replaced the edited conffile"
expect_mode /etc/celltrace "750 root:celltrace"
expect_mode /etc/celltrace/celltrace.conf "640 root:celltrace"
private_to_user "after the upgrade"

echo "in_root: remove keeps the data, the keys and the settings"
apt-get remove -y -q celltrace > /tmp/remove.log 2>&1 || { cat /tmp/remove.log; fail "apt-get remove"; }
[ ! -e /usr/bin/celltrace ] || fail "the binary is still there"
[ -f /var/lib/celltrace/catalog.db ] || fail "remove deleted the data"
[ -f /etc/celltrace/keys/keyring ] || fail "remove deleted the keys"
grep -q SITE /etc/celltrace/celltrace.conf || fail "remove lost the settings"

echo "in_root: reinstall after remove finds its data"
apt-get install -y -q "$deb" > /tmp/install3.log 2>&1 || { cat /tmp/install3.log; fail "reinstall"; }
as_ct celltrace stats > /tmp/stats2.txt || fail "stats after reinstall"
[ "$(as_ct celltrace config get sms.sender)" = MINZDRAV ] || fail "the reinstall lost the settings"

echo "in_root: purge deletes the data and the keys"
touch /etc/celltrace/celltrace.key.cred
apt-get purge -y -q celltrace > /tmp/purge.log 2>&1 || { cat /tmp/purge.log; fail "apt-get purge"; }
[ ! -e /var/lib/celltrace ] || fail "purge left /var/lib/celltrace"
[ ! -e /var/spool/celltrace ] || fail "purge left /var/spool/celltrace"
[ ! -e /etc/celltrace ] || fail "purge left /etc/celltrace: $(find /etc/celltrace)"
[ ! -e /lib/systemd/system/celltrace-serve.service ] || fail "purge left the units"
echo "in_root: all checks passed"
