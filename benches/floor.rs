//! The floor for the load benchmark (README "Performance"): a bare axum server on the same tokio
//! runtime settings as inferd (multi-thread, default worker count) whose `/predict`
//! parses the same JSON body inferd's does and answers a fixed small JSON at once.
//! No server on this stack can answer that request faster, so `scripts/loadbench.sh`
//! reports inferd's figures as ratios to this one's.
//!
//! `floor --serve 127.0.0.1:PORT` serves until killed. Without `--serve` (as under
//! `cargo bench`) it says how to use it and exits, so a plain bench run never hangs.

/// The allocator inferd's binary uses (src/main.rs), so figures here match the server.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[path = "floor/app.rs"]
mod app;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(addr) = args
        .iter()
        .position(|a| a == "--serve")
        .and_then(|i| args.get(i + 1))
    else {
        println!("floor: the load benchmark's reference server; run `floor --serve 127.0.0.1:PORT` (scripts/loadbench.sh does)");
        return Ok(());
    };
    // The same runtime inferd's main builds.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        axum::serve(listener, app::app()).await
    })
}
