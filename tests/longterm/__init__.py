"""Tests of ntm.longterm, its page and the throwaway Neo4j server (a package, so these module
names cannot clash with test files elsewhere under tests/)."""
