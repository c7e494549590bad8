"""Distributed training of the digits classifier, written the way Kaptain's tutorials wrote trainers.

Hyperparameters arrive as command-line flags (`--epochs=5`), read with `parse_known_args` so that
unknown flags are ignored. The PyTorchJob operator sets WORLD_SIZE, RANK, MASTER_ADDR and
MASTER_PORT; with more than one process the model is wrapped in DistributedDataParallel over gloo.
When run by Kaptain (MODEL_LIFECYCLE_PHASE is set) the script records its metrics and uploads the
trained weights; run by hand it only trains and prints.
"""

from __future__ import annotations

import argparse
import logging
import os

import torch
import torch.distributed as dist
from model import DigitsNet
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(name)s:%(message)s")


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="digits classifier")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--log-interval", type=int, default=10)
    args, _unknown = parser.parse_known_args()
    return args


def _datasets(seed: int) -> tuple[TensorDataset, TensorDataset]:
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.long)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=0.25, random_state=seed, stratify=labels
    )
    return TensorDataset(x_train, y_train), TensorDataset(x_test, y_test)


def _evaluate(model: nn.Module, data: TensorDataset) -> tuple[float, float]:
    model.eval()
    loader = DataLoader(data, batch_size=256)
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
            total_loss += float(loss_fn(out, y))
            correct += int((out.argmax(dim=1) == y).sum())
    return total_loss / len(data), correct / len(data)


def main() -> None:
    args = _args()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    distributed = world_size > 1
    if distributed:
        dist.init_process_group("gloo", rank=rank, world_size=world_size)
    torch.manual_seed(args.seed)

    train_data, test_data = _datasets(args.seed)
    sampler = DistributedSampler(train_data, num_replicas=world_size, rank=rank, seed=args.seed)
    loader = DataLoader(train_data, batch_size=args.batch_size, sampler=sampler)
    net = DigitsNet(hidden=args.hidden)
    model: nn.Module = DistributedDataParallel(net) if distributed else net
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    loss_fn = nn.CrossEntropyLoss()

    for epoch in range(1, args.epochs + 1):
        model.train()
        sampler.set_epoch(epoch)
        for step, (x, y) in enumerate(loader):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            if step % args.log_interval == 0:
                logging.info("rank %d epoch %d step %d loss=%.4f", rank, epoch, step, float(loss))
        test_loss, accuracy = _evaluate(net, test_data)
        logging.info("epoch %d: loss=%.4f accuracy=%.4f", epoch, test_loss, accuracy)

    print(f"world_size={world_size} rank={rank} final accuracy={accuracy:.4f}", flush=True)
    if "MODEL_LIFECYCLE_PHASE" in os.environ and rank == 0:
        # Imported here: when the script runs by hand outside Kaptain these helpers are not needed.
        from kaptain.platform.metadata_util import MetadataUtil
        from kaptain.platform.model_export_util import ModelExportUtil

        MetadataUtil.record_metrics({"loss": test_loss, "accuracy": accuracy})
        torch.save(net.state_dict(), "model.pt")
        ModelExportUtil().upload_model("model.pt")
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
