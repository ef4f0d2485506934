import { initAutomerge } from "../src/automerge";

await initAutomerge();
