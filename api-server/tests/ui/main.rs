//! UI tests: headless Chromium over WebDriver (chromedriver on a free port) against devcluster,
//! the simulators (Authentik signs people in through the real authorization code + PKCE flow)
//! and the API server, all started in-process on loopback ports chosen free; plus the sign-in
//! and session rules checked over plain HTTP. The operator is not running: the tests write
//! status and credentials Secrets as it would. Needs `/usr/bin/chromium` and
//! `/usr/bin/chromedriver` (`scripts/install-browser`).

mod browser;
mod console_pages;
mod platform;
mod portal;
mod portal_kit;
mod signin;
