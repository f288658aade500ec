def get_remote_address(request):
    return request.client.host if request.client else "127.0.0.1"
