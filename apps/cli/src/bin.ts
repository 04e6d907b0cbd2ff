#!/usr/bin/env node
import { main } from "./cli.js";
import { dropWritesToClosedPipes } from "./output.js";

dropWritesToClosedPipes();
process.exitCode = await main(process.argv.slice(2));
