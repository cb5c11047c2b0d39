//! Harness for end-to-end tests: hosts as network namespaces, each with swtpm and an agent.
