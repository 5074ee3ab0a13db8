//! An object's uid in the memory the operator keeps per registration: the 128 bits of the UUID the apiserver
//! assigns instead of its 36-character string (one allocation less per object and per index that holds it).

/// A uid: the canonical UUID form as its bits, any other string as it is (never from a real apiserver; kept exact,
/// so two different strings never compare equal).
///
/// Ordered as the strings are among canonical uids (fixed-width lowercase hex: the numeric order is the string
/// order), which is what a tie-break on the uid needs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Uid {
    Uuid(u128),
    Other(Box<str>),
}

impl Uid {
    pub fn of(uid: &str) -> Self {
        // Only the canonical form (lowercase hex, dashes at 8, 13, 18 and 23) maps to bits.
        let canonical = uid.len() == 36
            && uid.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => matches!(b, b'0'..=b'9' | b'a'..=b'f'),
            });
        if !canonical {
            return Self::Other(uid.into());
        }
        let bits = uid.bytes().filter(|b| *b != b'-').fold(0u128, |bits, b| {
            (bits << 4) | u128::from((b as char).to_digit(16).unwrap_or(0))
        });
        Self::Uuid(bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_apiserver_uid_is_held_as_its_bits_and_any_other_as_it_is() {
        let uid = "0b5a3c3e-8d1f-4f5e-9a3b-2c7d6e5f4a3b";
        assert_eq!(Uid::of(uid), Uid::Uuid(0x0b5a3c3e_8d1f_4f5e_9a3b_2c7d6e5f4a3b));
        assert_ne!(Uid::of(uid), Uid::of("0b5a3c3e-8d1f-4f5e-9a3b-2c7d6e5f4a3c"));
        assert_eq!(Uid::of("not-a-uuid"), Uid::Other("not-a-uuid".into()));
        assert_eq!(Uid::of(""), Uid::Other("".into()));
        // Dashes elsewhere, upper case or a sign: kept as strings, never mistaken for the canonical uid.
        for other in [
            "0b5a3c3e8-d1f-4f5e-9a3b-2c7d6e5f4a3b",
            "0B5A3C3E-8D1F-4F5E-9A3B-2C7D6E5F4A3B",
            "+b5a3c3e-8d1f-4f5e-9a3b-2c7d6e5f4a3b",
        ] {
            assert_eq!(Uid::of(other), Uid::Other(other.into()));
        }
    }

    #[test]
    fn canonical_uids_order_as_their_strings() {
        let uids = [
            "00000000-0000-4000-8000-000000000001",
            "0b5a3c3e-8d1f-4f5e-9a3b-2c7d6e5f4a3b",
            "0b5a3c3e-8d1f-4f5e-9a3b-2c7d6e5f4a3c",
            "f0000000-0000-4000-8000-000000000000",
        ];
        for pair in uids.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(Uid::of(pair[0]) < Uid::of(pair[1]), "{pair:?}");
        }
        assert!(Uid::of("aaa") < Uid::of("zzz"));
    }
}
