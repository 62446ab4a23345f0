//! Password hashing with argon2id and the rules for usernames and passwords.
//! Hashing is deliberately slow (~20 ms), so it always runs on a blocking thread.

use std::sync::OnceLock;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordVerifier, Version};

/// argon2id with OWASP's recommended minimum: 19 MiB, 2 passes, 1 lane.
const PRODUCTION: (u32, u32, u32) = (19 * 1024, 2, 1);
/// Tests only: the smallest parameters argon2 accepts.
const FAST_FOR_TESTS: (u32, u32, u32) = (8, 1, 1);

/// Hashes and verifies passwords with fixed argon2id parameters.
#[derive(Clone)]
pub struct Hasher {
    argon: Argon2<'static>,
}

impl Hasher {
    pub fn new(fast_for_tests: bool) -> Hasher {
        let (m, t, p) = if fast_for_tests {
            FAST_FOR_TESTS
        } else {
            PRODUCTION
        };
        let params = Params::new(m, t, p, None).expect("valid argon2 parameters");
        Hasher {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
        }
    }

    /// The PHC string (`$argon2id$v=19$m=…`) of `password` with a fresh salt.
    pub fn hash(&self, password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2 hashing with valid parameters")
            .to_string()
    }

    /// Checks `password` against a stored hash (its own parameters are used).
    pub fn verify(&self, password: &str, stored: &str) -> bool {
        PasswordHash::new(stored)
            .map(|parsed| {
                self.argon
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    }

    /// Spends the same time as a real check, for unknown usernames, so the
    /// answer time does not tell whether an account exists.
    pub fn verify_dummy(&self, password: &str) {
        static DUMMY: OnceLock<String> = OnceLock::new();
        let stored = DUMMY.get_or_init(|| self.hash("not-a-real-password-1"));
        let _ = self.verify(password, stored);
    }
}

/// Why a username is refused, or `None` when it is fine.
pub fn username_problem(username: &str) -> Option<&'static str> {
    let len = username.chars().count();
    if len < 3 {
        return Some("must be at least 3 characters long");
    }
    if len > 32 {
        return Some("must be at most 32 characters long");
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Some("may only use letters a-z, digits and _ . -");
    }
    None
}

/// Why a password is refused, or `None` when it is fine.
pub fn password_problem(password: &str) -> Option<&'static str> {
    let len = password.chars().count();
    if len < 8 {
        return Some("must be at least 8 characters long");
    }
    if len > 256 {
        return Some("must be at most 256 characters long");
    }
    if !password.chars().any(char::is_alphabetic) || !password.chars().any(|c| c.is_ascii_digit()) {
        return Some("must contain at least one letter and one digit");
    }
    None
}

/// Why a display name is refused, or `None`.
pub fn display_name_problem(name: &str) -> Option<&'static str> {
    let len = name.trim().chars().count();
    if len == 0 || len > 64 {
        return Some("must be 1 to 64 characters long");
    }
    if name.chars().any(char::is_control) {
        return Some("may not contain control characters");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let hasher = Hasher::new(true);
        let hash = hasher.hash("correct horse 1");
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse 1", &hash));
        assert!(!hasher.verify("correct horse 2", &hash));
        assert!(!hasher.verify("correct horse 1", "not a hash"));
    }

    #[test]
    fn production_hashes_use_the_documented_cost_and_verify_with_any_hasher() {
        let slow = Hasher::new(false);
        let hash = slow.hash("pässwörd 9");
        assert!(hash.contains("m=19456,t=2,p=1"), "{hash}");
        assert!(Hasher::new(true).verify("pässwörd 9", &hash));
    }

    #[test]
    fn usernames_follow_the_spec() {
        for ok in ["abc", "kim.minji", "a_b-c.9", &"x".repeat(32)] {
            assert_eq!(username_problem(ok), None, "{ok}");
        }
        for bad in ["ab", "", "with space", "김민지", "a/b", &"x".repeat(33)] {
            assert!(username_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn passwords_need_eight_characters_a_letter_and_a_digit() {
        assert_eq!(password_problem("abcdefg1"), None);
        assert_eq!(password_problem("비밀번호입니다12"), None);
        for bad in ["short1", "abcdefgh", "12345678", ""] {
            assert!(password_problem(bad).is_some(), "{bad}");
        }
    }
}
