"""A Python client of the HAM with grpcio's defaults (HAM-CONTRACT M2).

Usage: check.py SOCKET STUBS_DIR

Connects to `ham` over its Unix socket with no channel options at all (so
grpcio sends its own default `:authority`), makes one call that succeeds
and one that fails, and checks that `grpc_status.rpc_status.from_call`
finds the `ErrorDetail` with the errno. Prints one line per check; exits
non-zero on the first failure.
"""

import os
import sys


def main(socket, stubs):
    sys.path.insert(0, stubs)
    import grpc
    from grpc_status import rpc_status
    from ham.v1 import ham_pb2, ham_pb2_grpc

    # HAM_PY_AUTHORITY: an explicit :authority (the default one is refused
    # for now: see tests/integration/tests/python.rs).
    authority = os.environ.get("HAM_PY_AUTHORITY")
    options = [("grpc.default_authority", authority)] if authority else None
    with grpc.insecure_channel("unix:" + socket, options=options) as channel:
        stub = ham_pb2_grpc.HamStub(channel)

        info = stub.Handshake(ham_pb2.ConnectRequest(), timeout=10)
        assert info.node_id >= 1 and info.node_name, info
        print("ok handshake", info.node_id, info.node_name)

        request = ham_pb2.DetachRequest(
            by_name=ham_pb2.NamedEntity(name="nobody-is-called-this")
        )
        try:
            stub.Detach(request, timeout=10)
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.NOT_FOUND, err
            metadata = dict(err.trailing_metadata() or ())
            assert metadata.get("ham-errno") == "ENOENT", metadata
            status = rpc_status.from_call(err)
            assert status is not None, "no grpc-status-details-bin"
            assert status.code == grpc.StatusCode.NOT_FOUND.value[0], status
            found = []
            for any_detail in status.details:
                if any_detail.Is(ham_pb2.ErrorDetail.DESCRIPTOR):
                    detail = ham_pb2.ErrorDetail()
                    any_detail.Unpack(detail)
                    found.append(detail)
            assert len(found) == 1, status
            detail = found[0]
            assert detail.errno_name == "ENOENT", detail
            assert detail.code == ham_pb2.ERRNO_ENOENT == 2, detail
            assert ham_pb2.Errno.Name(detail.code) == "ERRNO_ENOENT", detail
            assert status.message == err.details(), status
            print("ok errno", detail.errno_name, detail.code, repr(status.message))
        else:
            raise AssertionError("detaching an unknown entity succeeded")

        # The names of the API are usable from Python (no keyword fields).
        info = ham_pb2.ConditionInfo(
            condition_type=ham_pb2.CONDITION_TYPE_RAISE,
            raise_filter=ham_pb2.RaiseFilter(rtype=-1),
        )
        assert info.raise_filter.rtype == -1
        assert ham_pb2.FLAG_HRECURSE == 0x0100_0000
        assert ham_pb2.CONTROL_COMMAND_GET_FLAGS == 6
        print("ok names")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
