//! `cargo run -p example-axum`, then open the address it prints. `PORT`
//! chooses the port (3000 by default); ctrl-c shuts down gracefully.

use std::net::{Ipv4Addr, SocketAddr};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("listening on http://{}", listener.local_addr()?);
    example_axum::serve(listener, example_axum::Config::default(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
