//! `cargo run -p example-actix`, then open the address it prints. `PORT`
//! chooses the port (3000 by default); ctrl-c shuts down gracefully.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    println!("listening on http://{}", listener.local_addr()?);
    example_actix::serve(
        listener,
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
        None,
    )
    .await
}
