//! `ssekit::tcp::tune` on real sockets: a peer that never reads is cut off
//! by the kernel once the user timeout passes, and one that reads is not;
//! and a tuned listener's connections inherit its options.

#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// A connected pair whose client has a small receive buffer, so the
/// server's writes back up soon.
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let client = socket
        .connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (server, client)
}

/// Writes until the connection fails, at most `limit`: when it failed.
async fn write_until_error(server: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let chunk = vec![b'x'; 64 * 1024];
    while started.elapsed() < limit {
        match tokio::time::timeout(Duration::from_millis(100), server.write_all(&chunk)).await {
            Ok(Ok(())) | Err(_) => {}
            Ok(Err(_)) => return Some(started.elapsed()),
        }
    }
    None
}

#[tokio::test]
async fn a_peer_that_never_reads_is_cut_off_after_the_user_timeout() {
    let (mut server, client) = pair().await;
    ssekit::tcp::tune_with(&server, Duration::from_secs(1)).unwrap();
    let failed = write_until_error(&mut server, Duration::from_secs(15)).await;
    let failed = failed.expect("the kernel closes a connection whose peer never reads");
    assert!(failed >= Duration::from_secs(1), "{failed:?}");
    drop(client);
}

#[tokio::test]
async fn a_peer_that_keeps_reading_is_not() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (mut server, _) = listener.accept().await.unwrap();
    ssekit::tcp::tune_with(&server, Duration::from_secs(1)).unwrap();
    // Still for 300 ms at a time, then it takes everything there is.
    let reader = tokio::spawn(async move {
        let mut buf = vec![0; 64 * 1024];
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            while let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_millis(5), client.read(&mut buf)).await
            {
                if n == 0 {
                    return;
                }
            }
        }
    });
    assert_eq!(
        write_until_error(&mut server, Duration::from_secs(3)).await,
        None
    );
    reader.abort();
}

#[tokio::test]
async fn a_tuned_listeners_connections_inherit_its_options() {
    let listener = ssekit::tcp::tuned_listener(TcpListener::bind("127.0.0.1:0").await.unwrap());
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let socket = socket2::SockRef::from(&server);
    assert!(socket.tcp_nodelay().unwrap(), "TCP_NODELAY");
    assert_eq!(
        socket.tcp_user_timeout().unwrap(),
        Some(ssekit::tcp::DEFAULT_USER_TIMEOUT),
        "TCP_USER_TIMEOUT"
    );
    // An untuned listener's are left alone, so the check above means
    // something.
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let _other = TcpStream::connect(plain.local_addr().unwrap())
        .await
        .unwrap();
    let (untuned, _) = plain.accept().await.unwrap();
    assert!(!socket2::SockRef::from(&untuned).tcp_nodelay().unwrap());
    drop(client);
}
