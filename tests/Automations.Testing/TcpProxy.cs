using System.Net;
using System.Net.Sockets;

namespace Automations.Testing;

/// <summary>
/// A loopback TCP proxy a test can cut and restore: it makes one service lose its broker (or database) without
/// stopping the shared server that other test classes use.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly List<TcpClient> _open = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _cts = new();
    private volatile bool _accepting = true;

    public TcpProxy(string targetHost, int targetPort)
    {
        _target = new IPEndPoint(Dns.GetHostAddresses(targetHost).First(a => a.AddressFamily == AddressFamily.InterNetwork), targetPort);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _ = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections refused while cut: a test waits for the client to have tried (and failed) before it restores.</summary>
    public int Refused => Volatile.Read(ref _refused);
    private int _refused;

    /// <summary>Drops every open connection and refuses new ones until <see cref="Restore"/>.</summary>
    public void Cut()
    {
        lock (_lock)
        {
            _accepting = false;
            foreach (var c in _open)
            {
                try { c.Client?.Close(0); } catch (Exception ex) when (ex is SocketException or ObjectDisposedException) { }
                c.Dispose();
            }
            _open.Clear();
        }
    }

    public void Restore() => _accepting = true;

    private async Task AcceptLoopAsync()
    {
        while (!_cts.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_cts.Token); }
            catch (Exception) { return; }
            if (!_accepting)
            {
                client.Client.Close(0);
                client.Dispose();
                Interlocked.Increment(ref _refused);
                continue;
            }
            _ = PipeAsync(client);
        }
    }

    private async Task PipeAsync(TcpClient client)
    {
        var upstream = new TcpClient();
        try
        {
            await upstream.ConnectAsync(_target, _cts.Token);
            lock (_lock)
            {
                // Accepted before a Cut() that came while connecting upstream: the cut applies to it too.
                if (!_accepting)
                {
                    client.Client.Close(0);
                    return;
                }
                _open.Add(client);
                _open.Add(upstream);
            }
            var a = client.GetStream().CopyToAsync(upstream.GetStream(), _cts.Token);
            var b = upstream.GetStream().CopyToAsync(client.GetStream(), _cts.Token);
            await Task.WhenAny(a, b);
        }
        catch (Exception) { }
        finally
        {
            lock (_lock) { _open.Remove(client); _open.Remove(upstream); }
            client.Dispose();
            upstream.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        _listener.Stop();
        Cut();
        _cts.Dispose();
    }
}
