"""A CRI client for the tests: one RuntimeService call per run (no crictl in Debian).

usage: /usr/bin/python3 cri_client.py SOCKET METHOD GEN_DIR < request.json > response.json

The request and the response are the messages of runtime_v1.proto as JSON (protobuf's JSON
mapping, field names as in the proto). The Python code for the proto is generated into GEN_DIR
on first use, with Debian's grpc_tools. A failed call exits 1 with the gRPC status code and
details on stderr.
"""
import importlib
import json
import os
import sys

import grpc
from google.protobuf import json_format
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))


def load(gen_dir):
    if not os.path.exists(os.path.join(gen_dir, "runtime_v1_pb2_grpc.py")):
        os.makedirs(gen_dir, exist_ok=True)
        status = protoc.main([
            "protoc", f"-I{HERE}", f"--python_out={gen_dir}", f"--grpc_python_out={gen_dir}",
            os.path.join(HERE, "runtime_v1.proto"),
        ])
        if status != 0:
            sys.exit(f"protoc failed on runtime_v1.proto ({status})")
    sys.path.insert(0, gen_dir)
    return importlib.import_module("runtime_v1_pb2"), importlib.import_module("runtime_v1_pb2_grpc")


def main():
    socket, method, gen_dir = sys.argv[1:4]
    pb2, pb2_grpc = load(gen_dir)
    request = json_format.Parse(sys.stdin.read() or "{}", getattr(pb2, f"{method}Request")())
    with grpc.insecure_channel(f"unix://{socket}") as channel:
        stub = pb2_grpc.RuntimeServiceStub(channel)
        try:
            response = getattr(stub, method)(request, timeout=120)
        except grpc.RpcError as e:
            sys.stderr.write(f"{e.code().name}: {e.details()}\n")
            sys.exit(1)
    print(json.dumps(json_format.MessageToDict(response, preserving_proto_field_name=True)))


if __name__ == "__main__":
    main()
