//! The compact encoding of `domain::patient::Details` in `patients.details`.
//!
//! postcard (varints, no field names) keeps a typical record near 150 bytes,
//! against about 4 KB for the same data as FHIR JSON. It is not
//! self-describing, so the first byte names the format: a future layout gets a
//! new number and `decode` keeps reading the old one.

use crate::domain::patient::Details;

const FORMAT_V1: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty details value")]
    Empty,
    #[error("unknown details format {0}")]
    UnknownFormat(u8),
    #[error("corrupt details value: {0}")]
    Corrupt(#[from] postcard::Error),
    #[error("stored value out of range in column {0}")]
    Column(String),
}

pub fn encode(details: &Details) -> Vec<u8> {
    let mut out = vec![FORMAT_V1];
    // Serialising plain owned data into a Vec cannot fail.
    postcard::to_io(details, &mut out).expect("encoding details into memory");
    out
}

pub fn decode(bytes: &[u8]) -> Result<Details, CodecError> {
    match bytes.split_first() {
        None => Err(CodecError::Empty),
        Some((&FORMAT_V1, rest)) => Ok(postcard::from_bytes(rest)?),
        Some((&other, _)) => Err(CodecError::UnknownFormat(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::codes::NameUse;
    use crate::domain::patient::Name;

    #[test]
    fn round_trips_and_is_small() {
        let details = Details {
            names: vec![Name {
                id: "1A2B3C4D".into(),
                name_use: NameUse::Usual,
                period: None,
                given: vec!["Jane".into(), "Anne".into()],
                family: Some("Smith".into()),
                prefix: vec!["Mrs".into()],
                suffix: vec![],
            }],
            ..Details::default()
        };
        let bytes = encode(&details);
        assert!(bytes.len() < 60, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).unwrap(), details);
    }

    #[test]
    fn rejects_unknown_formats_and_garbage() {
        assert!(matches!(decode(&[]), Err(CodecError::Empty)));
        assert!(matches!(decode(&[9, 1]), Err(CodecError::UnknownFormat(9))));
        assert!(matches!(
            decode(&[1, 0xff, 0xff]),
            Err(CodecError::Corrupt(_))
        ));
    }
}
