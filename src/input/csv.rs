//! temporary stub until the loader lands
use crate::error::{Error, Result};
use crate::input::Tensor;
use std::path::Path;
/// stub
#[derive(Clone, Debug, Default)]
pub struct CsvOptions {}
/// stub
pub fn read_csv(path: &Path, _o: &CsvOptions) -> Result<Tensor> { Err(Error::format(path, "csv loader not yet built")) }
