//! A real OpenLDAP server for the LDAP sign-in tests: Debian's `slapd`,
//! run as the current user in a temporary directory, on ephemeral loopback
//! ports for `ldap://` (StartTLS too) and `ldaps://`, with a certificate from
//! a CA made for the test. Killed when dropped.
//!
//! The directory (`dc=corp,dc=example`):
//! - `ou=People`: `kim` (in `research`, so nested in `ai-users`), `park`
//!   (in `ai-users` and `admins`), `lee` (in no group), `choi` (in
//!   `research`, password stored as `{SSHA}`); every password is
//!   [`PASSWORD`] (`choi`'s too).
//! - `ou=Groups`: `ai-users` has the member `research`, which has `kim` and
//!   `choi`; `admins` has `park`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SUFFIX: &str = "dc=corp,dc=example";
pub const ROOT_DN: &str = "cn=admin,dc=corp,dc=example";
pub const ROOT_PASSWORD: &str = "rootsecret";
pub const PEOPLE: &str = "ou=People,dc=corp,dc=example";
pub const GROUPS: &str = "ou=Groups,dc=corp,dc=example";
pub const AI_USERS: &str = "cn=ai-users,ou=Groups,dc=corp,dc=example";
pub const RESEARCH: &str = "cn=research,ou=Groups,dc=corp,dc=example";
pub const ADMINS: &str = "cn=admins,ou=Groups,dc=corp,dc=example";
/// Every directory user's password.
pub const PASSWORD: &str = "Directory-pw-1";

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";
const SLAPPASSWD: &str = "/usr/sbin/slappasswd";

pub struct Slapd {
    child: Child,
    dir: tempfile::TempDir,
    pub ldap_port: u16,
    pub ldaps_port: u16,
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().unwrap().port()
}

/// A CA and a server certificate for 127.0.0.1 / localhost signed by it:
/// (CA PEM, certificate PEM, key PEM).
fn certificates() -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "daehwa LDAP test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let mut server =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    server
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server.signed_by(&server_key, &issuer).unwrap();
    (ca_cert.pem(), server_cert.pem(), server_key.serialize_pem())
}

/// A CA PEM that signed nothing the server has.
pub fn unrelated_ca(dir: &Path) -> PathBuf {
    let (ca, _, _) = certificates();
    let path = dir.join("other-ca.pem");
    std::fs::write(&path, ca).unwrap();
    path
}

fn ssha(password: &str) -> String {
    let out = Command::new(SLAPPASSWD)
        .args(["-h", "{SSHA}", "-s", password])
        .output()
        .expect("slappasswd runs");
    assert!(out.status.success(), "slappasswd failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn data() -> String {
    let person = |uid: &str, cn: &str, display: &str, password: &str| {
        format!(
            "dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n\
             uid: {uid}\ncn: {cn}\nsn: {cn}\ndisplayName:: {display}\nmail: {uid}@corp.example\n\
             uidNumber: 1000\ngidNumber: 1000\nhomeDirectory: /home/{uid}\n\
             userPassword: {password}\n\n",
            display = base64(display),
        )
    };
    let group = |cn: &str, members: &[String]| {
        let mut entry = format!("dn: cn={cn},{GROUPS}\nobjectClass: groupOfNames\ncn: {cn}\n");
        for m in members {
            entry.push_str(&format!("member: {m}\n"));
        }
        entry.push('\n');
        entry
    };
    let uid = |u: &str| format!("uid={u},{PEOPLE}");
    let mut ldif = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: corp\no: Corp\n\n\
         dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: People\n\n\
         dn: {GROUPS}\nobjectClass: organizationalUnit\nou: Groups\n\n"
    );
    ldif.push_str(&person("kim", "Kim Minsu", "김민수", PASSWORD));
    ldif.push_str(&person("park", "Park Jisoo", "박지수", PASSWORD));
    ldif.push_str(&person("lee", "Lee Hana", "이하나", PASSWORD));
    ldif.push_str(&person("choi", "Choi Yuna", "최유나", &ssha(PASSWORD)));
    ldif.push_str(&group("research", &[uid("kim"), uid("choi")]));
    ldif.push_str(&group("ai-users", &[RESEARCH.to_string(), uid("park")]));
    ldif.push_str(&group("admins", &[uid("park")]));
    ldif
}

/// Standard base64 (LDIF's `::` values), enough for short strings.
fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Slapd {
    /// Starts a server with the directory above; returns once both ports
    /// accept connections. `None` (the test is skipped, with a printed
    /// reason, as the nginx tests are) where slapd is not installed: the
    /// README's `cargo test` needs only Rust and Node; `.ci/run` installs it.
    pub async fn start() -> Option<Slapd> {
        if !Path::new(SLAPD).exists() {
            println!("skipped: {SLAPD} is not installed (apt-get install slapd ldap-utils)");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let db = root.join("db");
        std::fs::create_dir(&db).unwrap();
        let (ca, cert, key) = certificates();
        std::fs::write(root.join("ca.pem"), &ca).unwrap();
        std::fs::write(root.join("server.pem"), &cert).unwrap();
        std::fs::write(root.join("server.key"), &key).unwrap();
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             include /etc/ldap/schema/nis.schema\n\
             pidfile {root}/slapd.pid\n\
             argsfile {root}/slapd.args\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             TLSCACertificateFile {root}/ca.pem\n\
             TLSCertificateFile {root}/server.pem\n\
             TLSCertificateKeyFile {root}/server.key\n\
             database mdb\n\
             maxsize 16777216\n\
             suffix \"{SUFFIX}\"\n\
             rootdn \"{ROOT_DN}\"\n\
             rootpw {ROOT_PASSWORD}\n\
             directory {db}\n\
             index objectClass eq\n\
             access to attrs=userPassword by anonymous auth by * none\n\
             access to * by * read\n",
            root = root.display(),
            db = db.display(),
        );
        let conf_path = root.join("slapd.conf");
        std::fs::write(&conf_path, conf).unwrap();
        std::fs::write(root.join("data.ldif"), data()).unwrap();
        let added = Command::new(SLAPADD)
            .arg("-f")
            .arg(&conf_path)
            .arg("-l")
            .arg(root.join("data.ldif"))
            .output()
            .expect("slapadd runs");
        assert!(
            added.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&added.stderr)
        );
        let (ldap_port, ldaps_port) = (free_port(), free_port());
        let urls = format!("ldap://127.0.0.1:{ldap_port}/ ldaps://127.0.0.1:{ldaps_port}/");
        let child = Command::new(SLAPD)
            .arg("-f")
            .arg(&conf_path)
            .args(["-h", &urls, "-d", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("slapd starts");
        let mut slapd = Slapd {
            child,
            dir,
            ldap_port,
            ldaps_port,
        };
        slapd.wait_ready().await;
        Some(slapd)
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut err) = self.child.stderr.take() {
                    use std::io::Read;
                    let _ = err.read_to_string(&mut stderr);
                }
                panic!("slapd exited ({status}): {stderr}");
            }
            let up = |port| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            if up(self.ldap_port) && up(self.ldaps_port) {
                return;
            }
            assert!(Instant::now() < deadline, "slapd did not start listening");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.ldap_port)
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.ldaps_port)
    }

    /// The PEM of the CA that signed the server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A connection bound as the root DN, to change the directory.
    pub async fn root(&self) -> ldap3::Ldap {
        let (conn, mut ldap) = ldap3::LdapConnAsync::new(&self.ldap_url())
            .await
            .expect("connect to slapd");
        ldap3::drive!(conn);
        ldap.simple_bind(ROOT_DN, ROOT_PASSWORD)
            .await
            .unwrap()
            .success()
            .expect("root bind");
        ldap
    }

    /// Removes `member` from the group `group`.
    pub async fn remove_member(&self, group: &str, member: &str) {
        let mut ldap = self.root().await;
        let change = ldap3::Mod::Delete("member", std::collections::HashSet::from([member]));
        ldap.modify(group, vec![change])
            .await
            .unwrap()
            .success()
            .expect("modify the group");
        let _ = ldap.unbind().await;
    }

    /// Stops the server (a directory that went down).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
