//! placeholder
use crate::model::Observation;
use std::path::Path;
#[derive(Debug)]
pub struct ScenarioHeader { pub name: String, pub description: String }
pub struct Scenario { pub header: ScenarioHeader, pub observations: Vec<Observation> }
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct ScenarioError;
pub fn load(_p: &Path) -> Result<Scenario, ScenarioError> { Err(ScenarioError) }
pub fn parse(_t: &str, _p: &Path) -> Result<Scenario, ScenarioError> { Err(ScenarioError) }
