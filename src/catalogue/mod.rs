//! The typed vocabulary every other module speaks: checklist [`Area`]s, stand-in
//! [`Fault`]s and [`Breakage`]s (with the contract [`Line`]s they break and where they
//! apply), the [`Cause`]s a report can name, the platform's [`Component`]s, the path
//! [`Spelling`]s of the contract, the stand-in's wording [`Dialect`], and [`KeyRole`]s with
//! the [`Keys`] of a run. A leaf: it depends on nothing of this crate but [`crate::secret`],
//! so `config`, `standin`, `checks` and `report` all import it and not each other.
//!
//! ```
//! use hokusai_verify::catalogue::{Area, Fault, KeyRole};
//! assert_eq!("mlflow-down".parse::<Fault>().unwrap(), Fault::MlflowDown);
//! assert_eq!(Area::parse("authentication"), Ok(Area::Authentication));
//! assert_eq!(KeyRole::LowLimit.var(), "HOKUSAI_LOW_LIMIT_API_KEY");
//! ```

/// Declares an enum of the vocabulary: a small `Copy` value with an order, serde and strum
/// ids (set their case with `#[serde(rename_all)]` / `#[strum(serialize_all)]`), iteration
/// in declaration order. Extra derives go first among the attributes.
macro_rules! vocabulary {
    ($(#[$attr:meta])* $vis:vis enum $name:ident $body:tt) => {
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            serde::Serialize,
            serde::Deserialize,
            strum::EnumIter,
            strum::IntoStaticStr
        )]
        $(#[$attr])*
        $vis enum $name $body
    };
}
pub(crate) use vocabulary;

mod area;
mod breakage;
mod cause;
mod component;
mod dialect;
mod error_code;
mod fault;
mod key_role;
pub mod line;
mod spelling;

pub use area::Area;
pub use breakage::{Applies, Breakage};
pub use cause::Cause;
pub use component::Component;
pub use dialect::Dialect;
pub use error_code::MLFLOW_ERROR_CODES;
pub use fault::{Fault, FaultSet, UnknownFault};
pub use key_role::{KeyRole, Keys, keys_from_vars};
pub use line::Line;
pub use spelling::Spelling;
