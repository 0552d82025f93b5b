//! The typed vocabulary every other module speaks: checklist [`Area`]s, stand-in
//! [`Fault`]s and [`Breakage`]s, the stand-in's wording [`Dialect`], and [`KeyRole`]s with
//! the [`Keys`] of a run. A leaf: it depends on nothing of this crate but [`crate::secret`],
//! so `config`, `standin`, `checks` and `report` all import it and not each other.
//!
//! ```
//! use hokusai_verify::catalogue::{Area, Fault, KeyRole};
//! assert_eq!("mlflow-down".parse::<Fault>().unwrap(), Fault::MlflowDown);
//! assert_eq!(Area::parse("authentication"), Ok(Area::Authentication));
//! assert_eq!(KeyRole::LowLimit.var(), "HOKUSAI_LOW_LIMIT_API_KEY");
//! ```

mod area;
mod breakage;
mod dialect;
mod fault;
mod key_role;

pub use area::Area;
pub use breakage::Breakage;
pub use dialect::Dialect;
pub use fault::{Fault, FaultSet, UnknownFault};
pub use key_role::{KeyRole, Keys, keys_from_vars};
