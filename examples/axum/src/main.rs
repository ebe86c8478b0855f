//! `cargo run -p example-axum`, then open the address it prints. `PORT`
//! chooses the port (3000 by default); ctrl-c shuts down gracefully.
//! For two instances sharing one feed through Redis, see the `cluster`
//! binary.

use std::net::{Ipv4Addr, SocketAddr};

use example_axum::Config;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let config = Config::default();
    example_axum::serve(listener, config.hub().build(), config.tick, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
