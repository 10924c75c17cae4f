//! A stand-alone devcluster for tests and manual use: `devcluster-server STATE_DIR [LISTEN]`.
//! Prints the URL on stdout once serving, then runs until interrupted or killed.

use std::net::SocketAddr;

use dezky_devcluster::{Devcluster, DevclusterOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let state_dir = args
        .next()
        .ok_or("usage: devcluster-server STATE_DIR [LISTEN]")?;
    let mut opts = DevclusterOptions::new(state_dir);
    if let Some(listen) = args.next() {
        opts.listen = listen.parse::<SocketAddr>()?;
    }
    let dc = Devcluster::start(opts).await?;
    println!("{}", dc.url());
    // Run until interrupted (or killed).
    tokio::signal::ctrl_c().await?;
    dc.shutdown().await;
    Ok(())
}
