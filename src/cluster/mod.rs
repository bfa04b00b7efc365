//! Installations sharing one Kafka log: the proxy in front of them and
//! the switch that moves the lead from one to another.

pub mod proxy;
pub mod switch;
