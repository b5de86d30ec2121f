//! placeholder
use std::path::Path;
#[derive(Debug, Default)]
pub struct Config;
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct ConfigError;
impl Config {
    pub fn load(_p: &Path) -> Result<Config, ConfigError> { Ok(Config) }
    pub fn engine(&self) -> crate::engine::EngineConfig { Default::default() }
}
