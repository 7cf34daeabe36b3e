// Package deploy will hold what installs cis490 on a lab host and on the hub:
// systemd units, the nats-server configuration with least-privilege users,
// config templates and install scripts. It is built in the deployment issue;
// today it holds no code.
package deploy
