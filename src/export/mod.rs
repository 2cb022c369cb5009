//! Figures to files, many at a time: [`batch`] turns files, directories
//! and globs into one PNG per file, tensor or slice with one GPU context
//! (loading, drawing and encoding overlapped, resumable, shardable);
//! [`runlog`] draws a run log's channels with their training steps on the
//! axis; [`compare`] puts runs side by side or draws the difference of two
//! (runs or arrays); [`shards`] joins a channel sharded across ranks into
//! one row; [`demo`] holds the five reference figures' built-in data.

pub mod batch;
pub mod compare;
pub mod demo;
pub mod runlog;
pub mod shards;
