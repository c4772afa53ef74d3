using Microsoft.Extensions.Logging;
using Orchestrator.Model;
using Orchestrator.NodeAgent.Runtime;
using Orchestrator.NodeProtocol;

namespace Orchestrator.NodeAgent.Agent;

/// <summary>
/// A pod's ServiceAccount token on the node, as the kubelet's projected "kube-api-access" volume:
/// a directory with token, ca.crt and namespace, mounted read-only at
/// /var/run/secrets/kubernetes.io/serviceaccount in every container unless the pod (or its
/// ServiceAccount) opts out. The token is bound to the pod, asked of the control plane when the
/// pod starts and again at 80 % of its lifetime (the kubelet's rule), and every file is replaced
/// by a rename so a reader never sees half a token. The directory lives under the pod's own
/// directory, which goes with the pod's sandbox.
/// </summary>
internal sealed partial class ServiceAccountTokenVolume(NodeContext node, string podUid)
{
    public const string MountPath = "/var/run/secrets/kubernetes.io/serviceaccount";

    /// <summary>Files are world-readable (the projected volume's default mode 0644), so that a
    /// container running as another user than root can read its token.</summary>
    private const UnixFileMode FileMode = (UnixFileMode)0x1A4;

    private bool? _mounted;
    private DateTimeOffset _refreshAt;
    private DateTimeOffset _expiresAt;

    public string Directory => Path.Combine(node.Options.DataDirectory, "pods", podUid, "volumes", "kube-api-access");

    /// <summary>The mounts this pod's containers get: none when it opts out. Fetches or refreshes
    /// the token when due. A failed refresh keeps the current token (still valid for a while) and
    /// is tried again on the next pass; a failure before there is any token throws.</summary>
    public async Task<IReadOnlyList<AgentMount>> EnsureAsync(Pod pod, CancellationToken cancellationToken)
    {
        // A runtime without real processes (the fake one) has nobody to read a token.
        if (pod.Spec.AutomountServiceAccountToken == false || _mounted == false || !node.Runtime.ProbesReachContainers)
        {
            return [];
        }
        var now = node.Time.GetUtcNow();
        if (_mounted is null || now >= _refreshAt || !File.Exists(Path.Combine(Directory, "token")))
        {
            try
            {
                var token = await node.Grains.GetGrain<IPodStatusReportGrain>(pod.Key())
                    .RequestServiceAccountTokenAsync(node.NodeName, podUid)
                    .WaitAsync(node.Options.CallTimeout, node.Time, cancellationToken);
                if (token is null)
                {
                    _mounted = false;
                    return [];
                }
                Write(token);
                _mounted = true;
                _expiresAt = token.ExpirationTimestamp;
                _refreshAt = token.IssuedAt + (token.ExpirationTimestamp - token.IssuedAt) * 0.8;
            }
            catch (Exception ex) when (ex is not OperationCanceledException && _mounted == true && now < _expiresAt)
            {
                LogRefreshFailed(node.Logger, ex, pod.Key());
                _refreshAt = now + TimeSpan.FromSeconds(10);
            }
        }
        return [new AgentMount(Directory, MountPath, ReadOnly: true)];
    }

    /// <summary>How long until the token is due for a refresh (null when there is none).</summary>
    public TimeSpan? RefreshDue(DateTimeOffset now) => _mounted == true ? _refreshAt - now : null;

    private void Write(PodToken token)
    {
        System.IO.Directory.CreateDirectory(Directory);
        WriteAtomically("ca.crt", token.CaCertificatePem);
        WriteAtomically("namespace", token.Namespace);
        WriteAtomically("token", token.Token);
    }

    private void WriteAtomically(string name, string content)
    {
        var target = Path.Combine(Directory, name);
        var temp = Path.Combine(Directory, $".{name}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temp, content);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, FileMode);
        }
        File.Move(temp, target, overwrite: true);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refreshing the ServiceAccount token of pod {Pod} failed; keeping the current one")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception, string pod);
}
