using Orchestrator.Model;
using Orchestrator.Validation;

namespace Orchestrator.NodeAgent.Runtime.Containerd;

/// <summary>
/// A container's security context as <c>ctr run</c> flags. Only what validation lets through
/// reaches here (run-as ids, host namespaces, Localhost seccomp are refused there, as ctr 1.6
/// has no flags for them), and each of those fields takes effect.
/// </summary>
public sealed partial class ContainerdRuntime
{
    /// <summary>The capabilities containerd gives a container by default (its default OCI spec,
    /// the same set Docker uses). "drop: [ALL]" drops these; naming each keeps the flags
    /// independent of the order in which ctr applies --cap-add and --cap-drop.</summary>
    private static readonly string[] DefaultCapabilities =
    [
        "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
        "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
    ];

    private async Task<IReadOnlyList<string>> SecurityArgsAsync(string image, Pod pod, Model.Container container, CancellationToken cancellationToken)
    {
        if (container.EffectiveRunAsNonRoot(pod.Spec) == true)
        {
            var config = await ImageConfigAsync(image, cancellationToken);
            VerifyRunAsNonRoot(container.EffectiveRunAsUser(pod.Spec), config.User);
        }
        var sc = container.SecurityContext;
        var args = new List<string>();
        if (sc?.Privileged == true)
        {
            // Every capability and device: the capability lists would change nothing.
            args.Add("--privileged");
        }
        else
        {
            var add = (sc?.Capabilities?.Add ?? []).Select(Validator.CapabilityName).Distinct().ToList();
            var drop = (sc?.Capabilities?.Drop ?? []).Contains("ALL")
                ? DefaultCapabilities
                : (sc?.Capabilities?.Drop ?? []).Select(Validator.CapabilityName).Distinct();
            // Kubernetes drops first, then adds: a capability both dropped and added is kept.
            foreach (var cap in add.Where(a => a != "ALL"))
            {
                args.AddRange(["--cap-add", "CAP_" + cap]);
            }
            foreach (var cap in drop.Except(add))
            {
                args.AddRange(["--cap-drop", "CAP_" + cap]);
            }
        }
        if (sc?.ReadOnlyRootFilesystem == true)
        {
            args.Add("--read-only");
        }
        // ctr sets no_new_privs unless told otherwise. Kubernetes leaves it off when
        // allowPrivilegeEscalation is unset; we keep it on then (stricter, and what pods here
        // always had) and turn it off only when escalation is asked for, or the container is
        // privileged (whose processes hold every privilege anyway).
        if (sc?.AllowPrivilegeEscalation == true || sc?.Privileged == true)
        {
            args.Add("--allow-new-privs");
        }
        if (container.EffectiveSeccompProfile(pod.Spec)?.Type == SeccompProfileType.RuntimeDefault)
        {
            args.Add("--seccomp");
        }
        return args;
    }

    /// <summary>Kubernetes' verifyRunAsNonRoot: the uid the process will have must be known and
    /// not 0. The image's user is "uid", "uid:gid", "name" or "name:group"; empty is root.</summary>
    private static void VerifyRunAsNonRoot(long? runAsUser, string imageUser)
    {
        if (runAsUser is { } uid)
        {
            if (uid == 0)
            {
                throw new RuntimeException("CreateContainerConfigError", "container's runAsUser breaks non-root policy");
            }
            return;
        }
        var user = imageUser.Split(':')[0];
        if (user.Length == 0)
        {
            throw new RuntimeException("CreateContainerConfigError", "container has runAsNonRoot and image will run as root");
        }
        if (!long.TryParse(user, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var imageUid))
        {
            throw new RuntimeException("CreateContainerConfigError", $"container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root");
        }
        if (imageUid == 0)
        {
            throw new RuntimeException("CreateContainerConfigError", "container has runAsNonRoot and image will run as root");
        }
    }
}
